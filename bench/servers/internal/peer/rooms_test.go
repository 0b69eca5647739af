package peer

import (
	"slices"
	"sync"
	"testing"
)

func others(r *Room[int], skip int) []int {
	var got []int
	r.Others(skip, func(c int) { got = append(got, c) })
	slices.Sort(got)
	return got
}

func TestRoomsJoinLeaveOthers(t *testing.T) {
	rs := NewRooms[int]()
	r := rs.Join("a", 1)
	rs.Join("a", 2)
	rs.Join("a", 3)
	rs.Join("a", 3) // twice: once
	if b := rs.Join("b", 4); b == r {
		t.Fatal("rooms a and b are the same room")
	}
	if got := others(r, 2); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("others of 2: %v", got)
	}
	rs.Leave(r, 1) // swap-remove: 3 moves into 1's slot
	rs.Leave(r, 1) // not a member: nothing
	if got := others(r, 0); !slices.Equal(got, []int{2, 3}) || r.Len() != 2 {
		t.Fatalf("after leave: %v", got)
	}
	rs.Leave(r, 3)
	rs.Leave(r, 2)
	if r2 := rs.Join("a", 5); r2 == r || r2.Len() != 1 {
		t.Fatal("an emptied room must be dropped and created anew")
	}
}

func TestRoomsConcurrent(t *testing.T) {
	rs := NewRooms[int]()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				c := g*1000 + i
				r := rs.Join("x", c)
				r.Others(c, func(int) {})
				rs.Leave(r, c)
			}
		})
	}
	wg.Wait()
	if r := rs.Join("x", 1); r.Len() != 1 {
		t.Fatalf("room x has %d members, want 1", r.Len())
	}
}

func TestRoomOf(t *testing.T) {
	for path, want := range map[string]string{"/rooms/a": "a", "/rooms/bcast-0": "bcast-0", "/rooms/": "",
		"/rooms/a/info": "", "/echo": "", "/roomsx": ""} {
		got, ok := RoomOf(path)
		if got != want || ok != (want != "") {
			t.Errorf("RoomOf(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

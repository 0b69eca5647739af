package dispatch

import (
	"strings"
	"testing"
)

// typeLast1K is a 1 KiB JSON event whose "type" is its last field, behind strings, numbers and
// nested containers the scanner must check.
var typeLast1K = func() []byte {
	var b strings.Builder
	b.WriteString(`{"user":{"id":12345,"name":"Ada Lovelace","tags":["admin","ops"],"score":-12.5e3},`)
	for i := 0; b.Len() < 1000; i++ {
		b.WriteString(`"f`)
		b.WriteByte(byte('a' + i%26))
		b.WriteString(`":[true,null,"some text here",42],`)
	}
	b.WriteString(`"type":"message"}`)
	return []byte(b.String())
}()

func benchType(b *testing.B, c Codec, msg []byte, want string) {
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if typ, ok := c.Type(msg); !ok || string(typ) != want {
			b.Fatalf("Type = %q, %v", typ, ok)
		}
	}
}

func BenchmarkJSONType(b *testing.B) {
	b.Run("seed", func(b *testing.B) {
		benchType(b, JSON{}, []byte(`{"type":"join-room","room":"general"}`), "join-room")
	})
	b.Run("1KiB-type-last", func(b *testing.B) { benchType(b, JSON{}, typeLast1K, "message") })
}

func BenchmarkMsgPackType(b *testing.B) {
	seed, err := MsgPack{}.Append(nil, struct {
		Type string `json:"type"`
		Room string `json:"room"`
	}{"join-room", "general"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("seed", func(b *testing.B) { benchType(b, MsgPack{}, seed, "join-room") })
}

func BenchmarkEventString(b *testing.B) {
	for _, c := range []Codec{JSON{}, MsgPack{}} {
		b.Run(c.Name(), func(b *testing.B) {
			msg, err := c.Append(nil, map[string]any{"type": "join-room", "room": "general"})
			if err != nil {
				b.Fatal(err)
			}
			e := NewEvent("join-room", msg, c, nil)
			b.ReportAllocs()
			for b.Loop() {
				if e.String("room") != "general" {
					b.Fatal("room")
				}
			}
		})
	}
}

package rooms

// find returns the record for room r, or nil. Caller holds the member's stripe.
func (ms *Membership[M]) find(r *Room[M]) *ref[M] {
	if ms.first.room == r {
		return &ms.first
	}
	if ms.more != nil {
		for i := range *ms.more {
			if (*ms.more)[i].room == r {
				return &(*ms.more)[i]
			}
		}
	}
	return nil
}

// add appends a record (join order is kept: first, then more...).
func (ms *Membership[M]) add(rf ref[M]) {
	if ms.first.room == nil && (ms.more == nil || len(*ms.more) == 0) {
		ms.first = rf
		return
	}
	if ms.more == nil {
		ms.more = new([]ref[M])
	}
	*ms.more = append(*ms.more, rf)
}

// remove drops the record of room r, keeping the order of the others.
func (ms *Membership[M]) remove(r *Room[M]) {
	if ms.first.room == r {
		if ms.more != nil && len(*ms.more) > 0 {
			ms.first = (*ms.more)[0]
			*ms.more = append((*ms.more)[:0], (*ms.more)[1:]...)
			ms.dropEmpty()
			return
		}
		ms.first = ref[M]{}
		return
	}
	if ms.more == nil {
		return
	}
	list := *ms.more
	for i := range list {
		if list[i].room == r {
			*ms.more = append(list[:i], list[i+1:]...)
			break
		}
	}
	ms.dropEmpty()
}

func (ms *Membership[M]) dropEmpty() {
	if ms.more != nil && len(*ms.more) == 0 {
		ms.more = nil
	}
}

// last returns the most recently joined room, or nil.
func (ms *Membership[M]) last() *Room[M] {
	if ms.more != nil && len(*ms.more) > 0 {
		return (*ms.more)[len(*ms.more)-1].room
	}
	return ms.first.room
}

func (ms *Membership[M]) names() []string {
	if ms.first.room == nil {
		return nil
	}
	out := []string{ms.first.room.name}
	if ms.more != nil {
		for _, rf := range *ms.more {
			out = append(out, rf.room.name)
		}
	}
	return out
}

package justredis

import (
	"bytes"
	"unsafe"
)

// An arena holds the values of one call's replies side by side, for a
// call with many replies (a pipeline) or a reply with many values (an
// aggregate: MGET, LRANGE, HGETALL): the bytes of its short strings, and
// the strings, integers and byte slices its interfaces point at. Each of
// these would otherwise be an allocation of its own, one or two per value;
// here they share one allocation per chunk. The values then share memory,
// so one value kept keeps its chunks alive: an arena serves one call only,
// and holds only strings of at most arenaMax bytes, so that a value kept
// keeps alive at most its chunk of headers (boxChunk values) and the
// chunks of bytes those values lie in: some 40 KiB at worst, whatever the
// size of the reply.
type arena struct {
	bytes   []byte
	strings []string
	ints    []int64
	slices  [][]byte
	// oneFrame says the arena serves the values of one reply only, so a
	// chunk need hold no more than what is left of the reply's frame.
	oneFrame bool
}

const (
	arenaChunk = 4 << 10
	arenaMax   = 512 // longer strings get allocations of their own
	boxChunk   = 64  // values per chunk of interface values
)

// minValueBytes is the least a value put in an arena takes on the wire
// (":256\r\n"; smaller integers and empty strings are not put there).
const minValueBytes = 6

// chunkSize is the size of a new chunk for a value of need units: max,
// or, when the arena serves one reply, as many units as the rest of the
// frame can fill at perUnit bytes a unit, if fewer.
func (r *Reader) chunkSize(max, need, perUnit int) int {
	if !r.arena.oneFrame {
		return max
	}
	return min(max, need+(len(r.buf)-r.pos)/perUnit)
}

// copyBytes returns a copy of b that the decoded value may keep.
func (r *Reader) copyBytes(b []byte) []byte {
	if r.share > 0 && len(b) >= r.share {
		return b[:len(b):len(b)]
	}
	if r.arena == nil || len(b) > arenaMax || len(b) == 0 {
		return bytes.Clone(b)
	}
	a := r.arena.bytes
	if cap(a)-len(a) < len(b) {
		a = make([]byte, 0, r.chunkSize(arenaChunk, len(b), 1))
	}
	start := len(a)
	a = append(a, b...)
	r.arena.bytes = a
	// Bytes past len are written later, never these: the capacity is
	// capped so that appending to the copy cannot reach its neighbour.
	return a[start:len(a):len(a)]
}

// copyString returns b as a string the decoded value may keep.
func (r *Reader) copyString(b []byte) string {
	if r.share > 0 && len(b) >= r.share {
		return unsafe.String(&b[0], len(b))
	}
	if r.arena == nil || len(b) > arenaMax || len(b) == 0 {
		return string(b)
	}
	c := r.copyBytes(b)
	// The arena is never written again where c lies, so c is immutable.
	return unsafe.String(&c[0], len(c))
}

// The type words of interfaces holding a string, an int64 and a []byte.
var (
	stringType = typeWord("")
	int64Type  = typeWord(int64(0))
	bytesType  = typeWord([]byte(nil))
)

// typeWord returns the first word of an interface holding v: its type.
func typeWord(v any) unsafe.Pointer { return (*[2]unsafe.Pointer)(unsafe.Pointer(&v))[0] }

// stringValue returns b as a string in an interface, for a decoded value
// to keep. Converting to an interface copies the value to memory of its
// own; an interface whose data word points at a value that is never
// written again, as those in the arena, is the same to every reader. Only
// a string whose bytes are in the arena has its header there too, so that
// a value kept never keeps a string larger than arenaMax alive.
func (r *Reader) stringValue(b []byte) any {
	if !r.inArena(b) {
		return r.copyString(b)
	}
	return box(&r.arena.strings, r.copyString(b), stringType, r.chunkSize(boxChunk, 1, minValueBytes))
}

// bytesValue is stringValue for a byte slice.
func (r *Reader) bytesValue(b []byte) any {
	if !r.inArena(b) {
		return r.copyBytes(b)
	}
	return box(&r.arena.slices, r.copyBytes(b), bytesType, r.chunkSize(boxChunk, 1, minValueBytes))
}

// intValue is stringValue for an integer. Go's own conversion needs no
// memory for those below 256.
func (r *Reader) intValue(n int64) any {
	if r.arena == nil || uint64(n) < 256 {
		return n
	}
	return box(&r.arena.ints, n, int64Type, r.chunkSize(boxChunk, 1, minValueBytes))
}

// inArena reports whether b is copied into the arena (see copyBytes).
// Strings large enough to share a large frame's buffer are far longer
// than arenaMax.
func (r *Reader) inArena(b []byte) bool {
	return r.arena != nil && len(b) > 0 && len(b) <= arenaMax
}

// box appends v to *chunk and returns an interface of type typ (v's)
// pointing at it there. A full chunk is left to the values pointing into
// it, and a new one of size started.
func box[T any](chunk *[]T, v T, typ unsafe.Pointer, size int) any {
	c := *chunk
	if len(c) == cap(c) {
		c = make([]T, 0, size)
	}
	c = append(c, v)
	*chunk = c
	var i any
	words := (*[2]unsafe.Pointer)(unsafe.Pointer(&i))
	words[0], words[1] = typ, unsafe.Pointer(&c[len(c)-1])
	return i
}

package justredis

// The read buffer of a connection: how it grows while a large reply
// arrives, how a reply's bytes are lent to its caller, and how it shrinks
// again once idle, along with the write buffers a large command grew
// (trim).

// makeRoom makes space at the end of the read buffer: it moves the
// unfinished frame to the front, or gives a frame that fills the buffer
// one of its own, which may be memory of mine's (see memoryOf).
func (cn *conn) makeRoom(mine *call) {
	if cn.rstart == cn.rend {
		cn.rstart, cn.rend = 0, 0
		if cn.small != nil && !cn.growing {
			cn.rbuf, cn.small = cn.small, nil // the replies that followed a large one are read
		}
		return
	}
	if cn.rend < len(cn.rbuf) {
		return
	}
	if cn.rstart > 0 {
		cn.rend = copy(cn.rbuf, cn.rbuf[cn.rstart:cn.rend])
		cn.rstart = 0
		if cn.rend < len(cn.rbuf) {
			return
		}
	}
	// Reading a large reply into a buffer that is then copied out would
	// touch every byte twice, and keep a large buffer for the next reply
	// that may never come. Instead the frame gets a buffer of its own, read
	// into directly, which is lent to its values once complete (see
	// nextFrame). It grows as bytes arrive: straight to the end of the
	// string they belong to when its length is known, but never by more
	// than doubling or maxReserve, whichever is more, so that a string of
	// many megabytes costs a few copies, not one per megabyte.
	size := 2 * len(cn.rbuf)
	if want := cn.scan.want; want > len(cn.rbuf) {
		size = min(want, max(size, cn.rend+maxReserve))
	}
	grown := cn.memoryOf(mine)
	cn.borrowed = grown != nil
	if grown == nil {
		grown = make([]byte, size)
	}
	copy(grown, cn.rbuf[:cn.rend])
	if cn.small == nil {
		cn.small = cn.rbuf
	}
	cn.growing = true
	cn.rbuf = grown
}

// memoryOf returns the memory a BytesInto caller offers for its reply, to
// read the frame now filling the buffer straight into: only when the
// frame is a bulk string of known length, mine's one reply, and mine is
// the reader, so that nobody writes into its memory once it has left
// (see unborrow). Else it returns nil.
func (cn *conn) memoryOf(mine *call) []byte {
	if mine == nil || len(mine.vals) != 1 || Kind(cn.rbuf[0]) != KindBulk || len(cn.scan.open) > 0 || cn.scan.chunking {
		return nil
	}
	d, ok := mine.decoder.(bytesInto)
	want := cn.scan.want
	if !ok || want <= len(cn.rbuf) || cap(*d.buf) < want {
		return nil
	}
	cn.mu.Lock()
	head := cn.queue.peek()
	cn.mu.Unlock()
	if head != mine {
		return nil // an earlier call's reply
	}
	return (*d.buf)[:want]
}

// unborrow moves the frame being read into memory of the reader's own
// call to memory of the connection's, for a reader whose caller is
// about to leave: that memory is the caller's alone again once it has.
func (cn *conn) unborrow() {
	if !cn.borrowed {
		return
	}
	cn.borrowed = false
	own := make([]byte, min(len(cn.rbuf), cn.rend+maxReserve))
	copy(own, cn.rbuf[:cn.rend])
	cn.rbuf = own
}

// trim gives back the buffers that large commands or replies grew, for a
// connection about to rest in a pool with nothing owed: a resting
// connection should not hold on to the memory of its largest reply.
func (cn *conn) trim() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.reading || cn.writing || !cn.queue.empty() {
		return // in use after all: its buffers are not ours to touch
	}
	cn.release()
	if cap(cn.wbuf) > readBufSize {
		cn.wbuf = nil
	}
	if cap(cn.spare) > readBufSize {
		cn.spare = nil
	}
}

// release drops the frame returned last, which is decoded already, and
// with it a buffer lent to its values; then, if nothing else waits, the
// buffer of the replies that followed a large one. Whoever holds the
// reading role calls it as it leaves with nothing owed, so that a
// connection at rest, shared or pooled, holds its small buffer and no
// memory of its largest reply. It costs nothing otherwise.
func (cn *conn) release() {
	cn.nextFrame()
	if cn.rstart == cn.rend {
		cn.makeRoom(nil)
	}
}

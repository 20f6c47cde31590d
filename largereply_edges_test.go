package justredis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/justredis/justredis/redistest"
	"github.com/stretchr/testify/require"
)

// Values of small replies read after an aggregate, in the same pipeline,
// are copies: 20000 kept 40-byte values keep no large buffer alive.
func TestSmallValuesHoldNoLargeBuffer(t *testing.T) {
	r, ctx := largeClient(t, redistest.Start(t, redistest.Options{}).Addr())
	elems := []any{"RPUSH", "list"}
	for i := range 20000 {
		elems = append(elems, fmt.Sprintf("element-%08d", i))
	}
	_, err := r.Do(ctx, elems...)
	require.NoError(t, err)
	_, err = r.Do(ctx, "SET", "s", strings.Repeat("s", 40))
	require.NoError(t, err)
	cmds := [][]any{{"LRANGE", "list", 0, -1}}
	for range 20000 {
		cmds = append(cmds, []any{"GET", "s"})
	}
	_, err = r.DoMulti(ctx, cmds...)
	require.NoError(t, err)
	var kept []any
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for range 3 {
		vals, err := r.DoMulti(ctx, cmds...)
		require.NoError(t, err)
		kept = append(kept, vals[1:]...) // only the small GET values
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	held := int64(ms.HeapAlloc) - int64(before)
	t.Logf("60000 kept 40-byte values hold %d KiB of heap", held>>10)
	for _, v := range kept {
		require.Equal(t, strings.Repeat("s", 40), v)
	}
	require.Less(t, held, int64(16<<20), "60000 kept 40-byte values hold %d MiB", held>>20)
}

// A hostile length prefix: the buffer reserved must stay near the bytes
// actually sent, both for a silent server and for one that trickles a
// large body.
func TestHostileLengthPrefixReservesLittle(t *testing.T) {
	cn, peer := newPipeConn(t)
	ctx, cancel := context.WithCancel(pipeCtx(t))
	before := respTotalAlloc()
	got := goGet(t, cn, ctx, "k", BytesDecoder)
	peer.command(t)
	peer.send(t, "$536870912\r\n"+strings.Repeat("x", 20000))
	time.Sleep(20 * time.Millisecond)
	cancel()
	v := <-got
	require.Error(t, v.(error))
	alloc := respTotalAlloc() - before
	t.Logf("allocated %d KiB for 20000 bytes of a 512 MiB claim", alloc>>10)
	require.Less(t, alloc, uint64(3<<20))
}

// The same claim, with the body trickling in 64 KiB pieces: what is
// allocated stays a few times what was sent, not n² in 1 MiB steps, which
// a hostile or merely slow server could push to gigabytes.
func TestHostileLengthPrefixTrickle(t *testing.T) {
	cn, peer := newPipeConn(t)
	ctx, cancel := context.WithCancel(pipeCtx(t))
	defer cancel()
	before := respTotalAlloc()
	got := goGet(t, cn, ctx, "k", BytesDecoder)
	peer.command(t)
	peer.send(t, "$536870912\r\n")
	piece := strings.Repeat("x", 64<<10)
	const sent = 16 << 20
	for range sent / len(piece) {
		peer.send(t, piece)
	}
	cancel()
	v := <-got
	require.Error(t, v.(error))
	alloc := respTotalAlloc() - before
	t.Logf("allocated %d MiB for %d MiB of a 512 MiB claim", alloc>>20, sent>>20)
	require.Less(t, alloc, uint64(6*sent), "allocated %d bytes for %d sent", alloc, sent)
}

// The park deadline firing while a BytesInto reply is read straight into
// the caller's memory, in pieces: it must only re-arm.
func TestParkDeadlineDuringBorrowedRead(t *testing.T) {
	cn, peer := newPipeConn(t)
	cn.park = 5 * time.Millisecond
	const size = 200 << 10
	buf := make([]byte, 0, size+64)
	body := bytes.Repeat([]byte("z"), size)
	for round := range 2 {
		got := make(chan any, 1)
		go func() {
			v, err := cn.roundTrip(pipeCtx(t), [][]any{{"GET", "k"}}, BytesInto(&buf), nil)
			if err != nil {
				v = err
			}
			got <- v
		}()
		peer.command(t)
		peer.send(t, fmt.Sprintf("$%d\r\n", size))
		for i := 0; i < size; i += 50 << 10 {
			time.Sleep(3 * cn.park)
			peer.send(t, string(body[i:i+50<<10]))
		}
		time.Sleep(3 * cn.park)
		peer.send(t, "\r\n")
		v := <-got
		if err, ok := v.(error); ok {
			t.Fatalf("round %d: %v", round, err)
		}
		require.True(t, bytes.Equal(body, v.([]byte)), "round %d", round)
	}
}

// Many goroutines, BytesInto and other decoders mixed, random
// cancellations, a Connection with CLIENT TRACKING receiving pushes
// between large replies; every value kept and checked at the end.
func TestLargeRepliesMixedDecodersStress(t *testing.T) {
	for _, resp := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", resp), func(t *testing.T) {
			s := redistest.Start(t, redistest.Options{})
			r, ctx := largeClient(t, s.Addr(), WithRESP(resp))
			sizes := []int{0, 7, readBufSize - 3, readBufSize + 5, 70 << 10, 600 << 10, 1<<20 + 3, 2<<20 + 11}
			want := make([][]byte, len(sizes))
			for i, n := range sizes {
				want[i] = make([]byte, n)
				rand.New(rand.NewSource(int64(i))).Read(want[i])
				_, err := r.Do(ctx, "SET", fmt.Sprintf("k%d", i), want[i])
				require.NoError(t, err)
			}
			type kept struct {
				i int
				v any
			}
			var mu sync.Mutex
			var all []kept
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			stop := make(chan struct{})
			// Writers to a key the Connection tracks, to make pushes.
			writerDone := make(chan struct{})
			go func() {
				defer close(writerDone)
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := r.Do(ctx, "SET", "tracked", n); err != nil {
						errs <- err
						return
					}
					time.Sleep(200 * time.Microsecond)
				}
			}()
			if resp == 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var buf []byte
					c, err := r.Modify(WithDecoder(BytesInto(&buf))).Connection(ctx)
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					if _, err := c.Do(ctx, "CLIENT", "TRACKING", "on"); err != nil {
						errs <- err
						return
					}
					rng := rand.New(rand.NewSource(99))
					for range 200 {
						if _, err := c.Do(ctx, "GET", "tracked"); err != nil {
							errs <- err
							return
						}
						i := rng.Intn(len(sizes))
						v, err := c.Do(ctx, "GET", fmt.Sprintf("k%d", i))
						if err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(want[i], largeBytes(v)) {
							errs <- fmt.Errorf("Connection GET k%d: wrong %d bytes", i, len(largeBytes(v)))
							return
						}
					}
				}()
			}
			for g := range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(g)))
					var buf []byte
					decs := []Decoder{StringDecoder, BytesDecoder, RawDecoder, BytesInto(&buf)}
					for range 80 {
						d := decs[rng.Intn(len(decs))]
						_, into := d.(bytesInto)
						rd := r.Modify(WithDecoder(d))
						i := rng.Intn(len(sizes))
						cctx, ccancel := context.WithTimeout(ctx, time.Duration(rng.Intn(4000))*time.Microsecond)
						if rng.Intn(3) == 0 {
							ccancel()
							cctx, ccancel = context.WithCancel(ctx)
						}
						var v any
						var err error
						if rng.Intn(4) == 0 {
							var vals []any
							vals, err = rd.DoMulti(cctx, []any{"GET", fmt.Sprintf("k%d", i)}, []any{"GET", fmt.Sprintf("k%d", (i+1)%len(sizes))})
							if err == nil {
								v = vals[0]
								if !bytes.Equal(want[(i+1)%len(sizes)], largeBytes(vals[1])) {
									errs <- fmt.Errorf("DoMulti second value wrong")
									ccancel()
									return
								}
								if !into {
									mu.Lock()
									all = append(all, kept{(i + 1) % len(sizes), vals[1]})
									mu.Unlock()
								}
							}
						} else {
							v, err = rd.Do(cctx, "GET", fmt.Sprintf("k%d", i))
						}
						ccancel()
						if err != nil {
							if !errors.Is(err, context.DeadlineExceeded) {
								errs <- err
								return
							}
							if into {
								for j := range buf[:cap(buf)] {
									buf[:cap(buf)][j] = 'X'
								}
							}
							continue
						}
						if !bytes.Equal(want[i], largeBytes(v)) {
							errs <- fmt.Errorf("GET k%d with %T: wrong %d bytes", i, d, len(largeBytes(v)))
							return
						}
						if !into {
							mu.Lock()
							all = append(all, kept{i, v})
							mu.Unlock()
						} else {
							for j := range buf[:cap(buf)] { // scribble: ours until the next call
								buf[:cap(buf)][j] = 'Y'
							}
						}
					}
				}()
			}
			waitWorkers := make(chan struct{})
			go func() { wg.Wait(); close(waitWorkers) }()
			select {
			case <-waitWorkers:
			case <-time.After(60 * time.Second):
				close(stop)
				t.Fatal("workers did not finish")
			}
			close(stop)
			<-writerDone
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for _, k := range all {
				require.True(t, bytes.Equal(want[k.i], largeBytes(k.v)), "kept k%d changed", k.i)
			}
		})
	}
}

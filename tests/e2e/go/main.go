// SPDX-License-Identifier: MIT
// Go runtime under bypass-run: one case per run (go-e2e CASE), each printing only what is
// the same natively and under bypass-run.  Go makes its syscalls itself (raw SYSCALL in its
// runtime and in package syscall), owns its signal handlers (SA_ONSTACK on its own
// sigaltstack), preempts goroutines with SIGURG and starts threads with raw clone.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

var cases = map[string]func() int{
	"threads": caseThreads,
	"preempt": casePreempt,
	"signal":  caseSignal,
	"timers":  caseTimers,
	"exec":    caseExec,
	"file":    caseFile,
	"tcp":     caseTCP,
	"gc":      caseGC,
	"panic":   casePanic,
	"nilptr":  caseNilPtr,
	"crash":   caseCrash,
	"exit":    caseExit,
	"cgo":     caseCgo,
	"clock":   caseClock,
}

func main() {
	if len(os.Args) != 2 || cases[os.Args[1]] == nil {
		names := make([]string, 0, len(cases))
		for n := range cases {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: go-e2e CASE (one of %s)\n", strings.Join(names, " "))
		os.Exit(2)
	}
	os.Exit(cases[os.Args[1]]())
}

// Goroutines on many threads: GOMAXPROCS=8 whatever the core count, and goroutines locked
// to their own OS threads so the runtime must clone at least that many.
func caseThreads() int {
	runtime.GOMAXPROCS(8)
	const locked = 12
	var wg sync.WaitGroup
	tids := make(chan int, locked)
	release := make(chan struct{})
	for i := 0; i < locked; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			tids <- syscall.Gettid()
			<-release
		}()
	}
	seen := map[int]bool{}
	for i := 0; i < locked; i++ {
		seen[<-tids] = true
	}
	close(release)
	wg.Wait()
	fmt.Println("distinct threads of locked goroutines:", len(seen))

	// Work spread over 8 Ps, results combined through channels and a mutex.
	var mu sync.Mutex
	total := uint64(0)
	results := make(chan uint64)
	for g := 0; g < 64; g++ {
		go func(g int) {
			s := uint64(0)
			for i := 0; i < 200000; i++ {
				s += uint64(i*g) ^ uint64(i)
			}
			mu.Lock()
			total += s
			mu.Unlock()
			results <- s
		}(g)
	}
	sum := uint64(0)
	for g := 0; g < 64; g++ {
		sum += <-results
	}
	fmt.Println("sum", sum, "total matches:", sum == total)
	return 0
}

// Async preemption: with one P, a goroutine spinning in a loop with no calls holds it;
// main only runs again if sysmon preempts the spinner (SIGURG to its thread, whose
// handler rewrites the interrupted context).  Without that this never ends.
func casePreempt() int {
	runtime.GOMAXPROCS(1)
	var spins uint64
	var stop uint32
	started := make(chan struct{})
	go func() {
		close(started)
		x := uint64(0)
		for atomic.LoadUint32(&stop) == 0 {
			for i := 0; i < 1000000; i++ {
				x += uint64(i)
			}
			spins++
		}
		_ = x
	}()
	<-started
	for i := 0; i < 5; i++ {
		time.Sleep(5 * time.Millisecond) // needs the P back: preemption
	}
	atomic.StoreUint32(&stop, 1)
	fmt.Println("main ran again 5 times while a goroutine spun")
	return 0
}

// os/signal: signals sent to ourselves with kill and tgkill arrive on the channel, in
// order; an ignored one is dropped; after Reset, SIGTERM's default action ends a child.
func caseSignal() int {
	c := make(chan os.Signal, 8)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGWINCH)
	signal.Ignore(syscall.SIGPIPE)
	for _, s := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR2,
		syscall.SIGWINCH} {
		if err := syscall.Kill(os.Getpid(), s); err != nil {
			fmt.Println("kill:", err)
			return 1
		}
		fmt.Println("got", <-c)
	}
	syscall.Kill(os.Getpid(), syscall.SIGPIPE)
	if err := syscall.Tgkill(os.Getpid(), syscall.Gettid(), syscall.SIGUSR1); err != nil {
		fmt.Println("tgkill:", err)
		return 1
	}
	fmt.Println("got", <-c, "(tgkill)")
	// A burst while other goroutines allocate: every delivery is counted, none lost
	// since each is awaited.
	done := make(chan bool)
	go func() {
		var keep [][]byte
		for i := 0; i < 2000; i++ {
			keep = append(keep, make([]byte, 1024))
			if len(keep) > 100 {
				keep = keep[:0]
			}
		}
		done <- true
	}()
	n := 0
	for i := 0; i < 200; i++ {
		syscall.Kill(os.Getpid(), syscall.SIGUSR2)
		<-c
		n++
	}
	<-done
	fmt.Println("burst received", n)
	signal.Stop(c)
	select {
	case s := <-c:
		fmt.Println("unexpected", s)
		return 1
	case <-time.After(20 * time.Millisecond):
	}
	fmt.Println("after Stop: nothing queued")
	return 0
}

// Timers: Sleep, After, a Ticker and AfterFunc; elapsed monotonic time is at least what
// was asked (an ordering property, not a timing figure).
func caseTimers() int {
	t0 := time.Now()
	time.Sleep(20 * time.Millisecond)
	fmt.Println("slept >= 20ms:", time.Since(t0) >= 20*time.Millisecond)
	<-time.After(5 * time.Millisecond)
	tk := time.NewTicker(2 * time.Millisecond)
	ticks := 0
	for range tk.C {
		if ticks++; ticks == 5 {
			break
		}
	}
	tk.Stop()
	fmt.Println("ticks", ticks)
	fired := make(chan int, 10)
	for i := 3; i >= 1; i-- {
		i := i
		time.AfterFunc(time.Duration(i)*3*time.Millisecond, func() { fired <- i })
	}
	// Each callback runs in a goroutine of its own: under load two that fire together
	// may run in either order, so only the set is compared.
	got := []int{<-fired, <-fired, <-fired}
	sort.Ints(got)
	fmt.Println("AfterFunc fired", got)
	tm := time.NewTimer(time.Hour)
	fmt.Println("stopped an hour timer:", tm.Stop())
	wall := time.Now()
	fmt.Println("wall clock after 2020:", wall.Year() >= 2020)
	return 0
}

// os/exec: a child (clone with CLONE_VFORK from package syscall, then execve) whose
// output and exit status reach us.
func caseExec() int {
	out, err := exec.Command("busybox", "echo", "hello from a child").Output()
	fmt.Printf("busybox echo: %q err=%v\n", out, err)
	err = exec.Command("/bin/true").Run()
	fmt.Println("/bin/true:", err)
	err = exec.Command("busybox", "sh", "-c", "exit 3").Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		fmt.Println("exit 3 seen as", ee.ExitCode())
	} else {
		fmt.Println("exit 3 not seen:", err)
	}
	cmd := exec.Command("busybox", "tr", "a-z", "A-Z")
	cmd.Stdin = strings.NewReader("piped through tr\n")
	out, err = cmd.Output()
	fmt.Printf("tr: %q err=%v\n", out, err)
	_, err = exec.Command("/nonexistent/program").Output()
	fmt.Println("missing program:", err)
	// The children reset every handled signal to SIG_DFL between clone and exec, in
	// memory they share with us: our own handlers must be untouched.
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	fmt.Println("after the children: got", <-c)
	return 0
}

// File I/O: create, write, sync, reread, seek, rename, stat, list and remove in the
// current (fresh, empty) directory.
func caseFile() int {
	data := []byte(strings.Repeat("bypass go file line\n", 500))
	if err := os.WriteFile("a.txt", data, 0o644); err != nil {
		fmt.Println(err)
		return 1
	}
	f, err := os.OpenFile("a.txt", os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	f.WriteString("tail\n")
	f.Sync()
	f.Seek(0, io.SeekStart)
	back, _ := io.ReadAll(f)
	f.Close()
	fmt.Println("read back", len(back), "bytes, prefix ok:", string(back[:len(data)]) == string(data))
	os.Mkdir("d", 0o755)
	if err := os.Rename("a.txt", "d/b.txt"); err != nil {
		fmt.Println(err)
		return 1
	}
	st, err := os.Stat("d/b.txt")
	fmt.Println("stat", st.Size(), st.Mode().IsRegular(), err)
	ents, _ := os.ReadDir("d")
	for _, e := range ents {
		fmt.Println("entry", e.Name())
	}
	_, err = os.Open("missing")
	fmt.Println("open missing:", errors.Is(err, os.ErrNotExist))
	os.RemoveAll("d")
	_, err = os.Stat("d")
	fmt.Println("removed:", errors.Is(err, os.ErrNotExist))
	return 0
}

// TCP over 127.0.0.1 through Go's netpoller (epoll, non-blocking sockets).
func caseTCP() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				io.Copy(c, c)
			}(c)
		}
	}()
	var wg sync.WaitGroup
	var okc int32
	for k := 0; k < 8; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 8192)
			for i := 0; i < 50; i++ {
				msg := []byte(fmt.Sprintf("%d:%d:%s", k, i, strings.Repeat("x", 100*i)))
				c.Write(msg)
				if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil ||
					string(buf[:len(msg)]) != string(msg) {
					return
				}
			}
			atomic.AddInt32(&okc, 1)
		}(k)
	}
	wg.Wait()
	ln.Close()
	fmt.Println("clients that got every echo:", okc)
	_, err = net.Dial("tcp", ln.Addr().String())
	fmt.Println("dial after close refused:", errors.Is(err, syscall.ECONNREFUSED))
	return 0
}

type node struct {
	next *node
	val  [8]uint64
}

// runtime.GC under load: allocating goroutines while GC runs concurrently (its workers
// stop the world with signals-free handshakes and preempt with SIGURG).
func caseGC() int {
	runtime.GOMAXPROCS(4)
	debug.SetGCPercent(10)
	var wg sync.WaitGroup
	sums := make([]uint64, 6)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for round := 0; round < 30; round++ {
				var head *node
				for i := 0; i < 2000; i++ {
					head = &node{next: head}
					head.val[i%8] = uint64(i + g)
				}
				for n := head; n != nil; n = n.next {
					sums[g] += n.val[0]
				}
			}
		}(g)
	}
	for i := 0; i < 10; i++ {
		runtime.GC()
	}
	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Println("sums", sums, "GCs >= 10:", ms.NumGC >= 10)
	return 0
}

func casePanic() int {
	v := func() (r interface{}) {
		defer func() { r = recover() }()
		panic(fmt.Sprintf("custom %d", 42))
	}()
	fmt.Println("recovered:", v)
	return 0
}

// A nil dereference faults (SIGSEGV in Go code); Go's handler turns it into a panic
// that recover sees as a runtime.Error.  Twice, from two goroutines.
func caseNilPtr() int {
	for i := 0; i < 2; i++ {
		done := make(chan string)
		go func() {
			defer func() {
				r := recover()
				re, ok := r.(runtime.Error)
				done <- fmt.Sprint(ok, " ", re)
			}()
			var p *node
			p.val[3] = 1
		}()
		fmt.Println("recovered runtime error:", <-done)
	}
	// An integer divide by zero is SIGFPE, also turned into a panic.
	z := 0
	func() {
		defer func() { fmt.Println("recovered:", recover()) }()
		fmt.Println(10 / z)
	}()
	return 0
}

// An unrecovered panic: the trace goes to stderr and the exit status is 2.
func caseCrash() int {
	fmt.Println("about to panic")
	os.Stdout.Sync()
	var m map[string]int
	m["x"] = 1
	return 0
}

func caseExit() int {
	fmt.Println("exiting with 7")
	return 7
}

// The monotonic and CPU clocks: Go reads them through the vDSO.
func caseClock() int {
	var ts syscall.Timespec
	prev := int64(0)
	mono := true
	for i := 0; i < 1000; i++ {
		t := time.Now().UnixNano()
		if t < prev {
			mono = false
		}
		prev = t
	}
	_, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 2, uintptr(unsafe.Pointer(&ts)), 0)
	fmt.Println("process cputime read:", e == 0, "wall monotone:", mono)
	return 0
}

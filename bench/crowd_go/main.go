// The crowd of open status pages of bench/crowd.py, in Go (issue 16): the same pages, the
// same command line, the same stdin/stdout protocol and the same JSON record, so that
// bench/crowd_procs.py can run either. One goroutine per page on Go's network poller uses
// every core; the Python client, one event loop per process, ran 1–2.5 s late right after a
// change with 10,000 pages.
//
//	go build -o crowd-go . && ./crowd-go --url http://127.0.0.1:8080 --pages 5000 --seconds 60 --out r.json
//
// Each page behaves as web/js/api.js and web/app.js do (see bench/crowd.py for the details):
// it loads /api on a keep-alive connection of its own, opens /api/events; on an event whose
// ETag it does not hold it fetches /api?v=<that ETag> with If-None-Match (404: /api, and it
// looks again after 0.5–1 s, at most 3 times), and while the stream is up asks /api/sources
// every --poll seconds, revalidating /api every third time instead. Each of these document
// fetches that got an answer is followed, on the same
// connection, by what the page's refreshAll asks next: /api/verdicts with If-None-Match when
// the document changed (or the verdicts are still pending, or unavailable for 5 min), then
// /api/sources; when the stream is refused (503), fails or ends, it polls /api every
// --poll seconds and opens the stream again after the page's retryDelay. The process prints
// "ready" once every page holds a document, runs --seconds in all (or until its stdin
// closes) and writes its record; times are CLOCK_MONOTONIC seconds, Python's
// time.monotonic(), which the harness shares.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The constants of bench/crowd.py.
const (
	requestDeadline     = 8 * time.Second
	streamOpenDeadline  = 10 * time.Second
	streamSilence       = 40 * time.Second
	retryBase           = 5.0
	retryMax            = 300.0
	recheckSeconds      = 0.5
	rechecks            = 3
	liveRevalidateTicks = 3
	verdictsRetry       = 300 * time.Second
	rampPerSecond       = 250
	lagTick             = 10 * time.Millisecond
	lagKept             = 0.05
	sourceAddresses     = 50
	readBuffer          = 4096
	streamReadSize      = 1024
)

var (
	startMono  float64
	startClock time.Time
)

// monotonic is Python's time.monotonic(): CLOCK_MONOTONIC read once through the system call,
// then advanced by Go's own monotonic clock (the same CLOCK_MONOTONIC underneath).
func monotonic() float64 {
	return startMono + time.Since(startClock).Seconds()
}

func initClock() {
	var ts syscall.Timespec
	const clockMonotonic = 1
	_, _, errno := syscall.Syscall(
		syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0,
	)
	startClock = time.Now()
	if errno != 0 {
		fmt.Fprintln(os.Stderr, "clock_gettime:", errno)
		os.Exit(1)
	}
	startMono = float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// sameDocument is the document an ETag names, whatever the encoding (the page's sameTag).
func sameDocument(etag string) string {
	etag = strings.TrimPrefix(etag, "W/")
	etag = strings.ReplaceAll(etag, `"`, "")
	return strings.TrimSuffix(etag, "-gz")
}

// retryDelay is the page's wait before the next stream attempt (web/js/api.js retryDelay).
func retryDelay(retryAfter float64, failures int, draw float64) float64 {
	base := retryAfter
	if base <= 0 {
		base = retryBase
	}
	backoff := math.Min(retryMax, base*math.Pow(2, math.Max(0, float64(failures-1))))
	return backoff * (1 + draw)
}

// httpError: a request got no complete HTTP answer (bench/crowd.py HttpError).
type httpError struct{ what string }

func (e *httpError) Error() string { return e.what }

// errorName names an error as bench/crowd.py's record does (the Python exception's type).
func errorName(err error) string {
	var he *httpError
	var ne net.Error
	switch {
	case errors.As(err, &he):
		return "HttpError"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "TooSlowError"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ConnectionRefusedError"
	case errors.Is(err, syscall.ECONNRESET):
		return "ConnectionResetError"
	case errors.Is(err, syscall.EPIPE):
		return "BrokenPipeError"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "HttpError"
	}
	return "OSError"
}

// record is what the crowd saw, for the JSON report (bench/crowd.py Record).
type record struct {
	mu               sync.Mutex
	started          float64
	documents        [][3]any
	events           [][3]any
	apiRequests      int
	verdictsRequests int
	sourcesRequests  int
	apiFailed        map[string]int
	failedRequests   map[string]int
	streamsOpened    int
	streamsRefused   int
	streamFailures   map[string]int
	loopLags         [][2]float64
	readyPages       int
	failedOnArrival  int
}

func (r *record) add(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

func total(counts map[string]int) int {
	sum := 0
	for _, n := range counts {
		sum += n
	}
	return sum
}

func (r *record) asJSON(pages, firstPage int) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	failed := total(r.apiFailed)
	return map[string]any{
		"pages":                 pages,
		"first_page":            firstPage,
		"started":               r.started,
		"api_requests":          r.apiRequests,
		"verdicts_requests":     r.verdictsRequests,
		"sources_requests":      r.sourcesRequests,
		"api_failed":            failed,
		"api_failed_by_reason":  r.apiFailed,
		"api_failed_by_request": r.failedRequests,
		"api_failed_on_arrival": r.failedOnArrival,
		"api_failed_while_open": failed - r.failedOnArrival,
		"streams_opened":        r.streamsOpened,
		"streams_refused":       r.streamsRefused,
		"stream_failures":       r.streamFailures,
		"documents":             r.documents,
		"events":                r.events,
		"loop_lags":             r.loopLags,
	}
}

// conn is one HTTP/1.1 connection with a read buffer (bench/crowd.py Connection).
type conn struct {
	net.Conn
	reader *bufio.Reader
	used   bool
	// requests made on it, and when the last answer ended (for the note on a timeout).
	requests int
	lastDone time.Time
}

func dial(ctx context.Context, crowd *crowd, page int) (*conn, error) {
	local := net.IPv4(127, 0, 0, byte(2+page%sourceAddresses))
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}
	c, err := dialer.DialContext(ctx, "tcp", crowd.address)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, reader: bufio.NewReaderSize(c, readBuffer)}, nil
}

// noteTimeout writes to stderr (the crowd's log) what a request that ran out of time knew of
// its connection, and the kernel's view of it (ss -tni), to tell a request that never left
// from one the server never answered.
func (c *conn) noteTimeout(err error, target string, started time.Time) {
	if errorName(err) != "TooSlowError" {
		return
	}
	local, remote := c.LocalAddr().String(), c.RemoteAddr().String()
	idle := "never"
	if !c.lastDone.IsZero() {
		idle = fmt.Sprintf("%.3f s", started.Sub(c.lastDone).Seconds())
	}
	filter := fmt.Sprintf("( src %s and dst %s ) or ( src %s and dst %s )",
		local, remote, remote, local)
	out, _ := exec.Command("ss", "-tnie", filter).CombinedOutput()
	log.Printf("timed out: %s, request %d on %s -> %s, idle %s before it, buffered %d; ss:\n%s",
		target, c.requests, local, remote, idle, c.reader.Buffered(), out)
}

// watch makes the connection's I/O fail at once when ctx is done (a cancelled exchange
// leaves the connection unusable, as trio's cancellation does); stop ends the watch and
// returns once the watcher has, so it cannot touch the connection's deadline later: a
// watcher still waiting to run when the exchange ended and its context was then cancelled
// used to set the next request's deadline in the past (three "timed out" requests in a run,
// answered by nginx at once).
func (c *conn) watch(ctx context.Context) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-ctx.Done():
			_ = c.SetDeadline(time.Unix(1, 0))
		case <-done:
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

func (c *conn) readLine() ([]byte, error) {
	line, err := c.reader.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &httpError{"closed before a line ended"}
		}
		return nil, err
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")), nil
}

func (c *conn) readHead() (int, map[string]string, error) {
	first, err := c.readLine()
	if err != nil {
		return 0, nil, err
	}
	parts := strings.SplitN(string(first), " ", 3)
	if len(parts) < 2 {
		return 0, nil, &httpError{fmt.Sprintf("bad status line %q", first)}
	}
	status, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, nil, &httpError{fmt.Sprintf("bad status line %q", first)}
	}
	headers := map[string]string{}
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, nil, err
		}
		if len(line) == 0 {
			return status, headers, nil
		}
		name, value, _ := strings.Cut(string(line), ":")
		headers[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
}

func (c *conn) discard(size int64) error {
	if _, err := io.CopyN(io.Discard, c.reader, size); err != nil {
		if errors.Is(err, io.EOF) {
			return &httpError{"closed inside a body"}
		}
		return err
	}
	return nil
}

// readChunk is the next chunk of a chunked body (empty at its end).
func (c *conn) readChunk() ([]byte, error) {
	line, err := c.readLine()
	if err != nil {
		return nil, err
	}
	sizeText := strings.TrimSpace(strings.SplitN(string(line), ";", 2)[0])
	if sizeText == "" {
		sizeText = "0"
	}
	size, err := strconv.ParseInt(sizeText, 16, 64)
	if err != nil || size < 0 {
		return nil, &httpError{fmt.Sprintf("bad chunk size %q", line)}
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(c.reader, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &httpError{"closed inside a body"}
		}
		return nil, err
	}
	if _, err := c.readLine(); err != nil {
		return nil, err
	}
	return data, nil
}

func (c *conn) readBody(status int, headers map[string]string) error {
	if status == 304 || status < 200 {
		return nil
	}
	if strings.ToLower(headers["transfer-encoding"]) == "chunked" {
		for {
			part, err := c.readChunk()
			if err != nil || len(part) == 0 {
				return err
			}
		}
	}
	length := int64(0)
	if text, ok := headers["content-length"]; ok {
		parsed, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return &httpError{fmt.Sprintf("bad content-length %q", text)}
		}
		length = parsed
	}
	return c.discard(length)
}

// answer is a GET's status and ETag.
type answer struct {
	status    int
	validator string
}

// page is one open page (bench/crowd.py Page). mu guards its fields; fetching (a channel
// of one) is held by the one fetch in flight, which alone uses api.
type page struct {
	index    int
	crowd    *crowd
	mu       sync.Mutex
	fetching chan struct{}
	api      *conn
	// etag is the document held (sameDocument of the ETag it came with); validator that
	// ETag as received, for If-None-Match.
	etag, validator string
	failures        int
	// queued: a fetch waits for the one in flight; later asks join it.
	queued bool
	// announced: the ETag the newest event named; wanted: the version the next fetch asks
	// for (set by an event and by its rechecks).
	announced, wanted string
	rechecking        bool
	// revalidate: the next fetch revalidates /api even when it holds the version wanted.
	revalidate bool
	// The page's verdictsState ("pending", "available", "unavailable"), the ETag of the
	// verdicts held (for If-None-Match) and when /api/verdicts was last asked for; used by
	// the one fetch in flight only.
	verdicts, verdictsValidator string
	verdictsTried               time.Time
}

func (p *page) locked(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

// fetchAPI is GET /api with If-None-Match (revalidate), or the version an event named; asks
// made while one fetch waits for the one in flight are coalesced into it. ctx ends it
// (cancelled mid-exchange, the connection is closed).
func (p *page) fetchAPI(ctx context.Context, revalidate bool) {
	join := false
	p.locked(func() {
		p.revalidate = p.revalidate || revalidate
		join = p.queued
		p.queued = true
	})
	if join {
		return
	}
	select {
	case p.fetching <- struct{}{}:
		p.locked(func() { p.queued = false })
	case <-ctx.Done():
		p.locked(func() { p.queued = false })
		return
	}
	defer func() { <-p.fetching }()
	p.refresh(ctx)
}

// refresh is the page's refreshAll: the document, then (when it answered) the verdicts and
// the sources; a request with no answer ends the refresh, as the page's Unreachable does.
func (p *page) refresh(ctx context.Context) {
	got, ok := p.fetchDocument(ctx)
	if !ok || !p.fetchVerdicts(ctx, p.take(got)) {
		return
	}
	p.fetchSources(ctx)
}

// fetchDocument is the page's fetchDocument: /api?v=<ETag> when an event (or its recheck)
// named a document this page does not hold (404: plain /api); nothing (false) when it holds
// it by now and no revalidation was asked for, or when the request got no answer.
func (p *page) fetchDocument(ctx context.Context) (answer, bool) {
	var version, held, validator string
	var revalidate bool
	p.locked(func() {
		version, p.wanted = p.wanted, ""
		revalidate, p.revalidate = p.revalidate, false
		held, validator = p.etag, p.validator
	})
	record := p.crowd.record
	if version != "" && version != held {
		record.add(func() { record.apiRequests++ })
		got, ok := p.exchange(ctx, "/api?v="+version, validator)
		if !ok || got.status != 404 {
			return got, ok
		}
	} else if !revalidate {
		return answer{}, false
	}
	record.add(func() { record.apiRequests++ })
	return p.exchange(ctx, "/api", validator)
}

// fetchVerdicts is the page's fetchVerdicts: /api/verdicts, conditional on the verdicts
// held, when they are pending, available and the document changed, or unavailable for
// verdictsRetry; false when it was asked and got no answer.
func (p *page) fetchVerdicts(ctx context.Context, changed bool) bool {
	now := time.Now()
	due := p.verdicts == "pending" ||
		(p.verdicts == "available" && changed) ||
		(p.verdicts == "unavailable" && now.Sub(p.verdictsTried) >= verdictsRetry)
	if !due {
		return true
	}
	p.verdictsTried = now
	record := p.crowd.record
	record.add(func() { record.verdictsRequests++ })
	got, ok := p.exchange(ctx, "/api/verdicts", p.verdictsValidator)
	if !ok {
		return false
	}
	if got.status != 304 {
		p.verdicts, p.verdictsValidator = "unavailable", ""
		if p.goodStatus(got.status) { // 200: the page reads them
			p.verdicts, p.verdictsValidator = "available", got.validator
		}
	}
	return true
}

func (p *page) closeAPI() {
	if p.api != nil {
		_ = p.api.Close()
		p.api = nil
	}
}

// failedRequest names a failed request for record.failedRequests (bench/crowd.py
// failed_request): which one (the page's first /api, a later /api, an event's /api?v=,
// /api/verdicts, /api/sources), whether it failed connecting or on the connection, and why.
func failedRequest(target, held string, connecting bool, reason string) string {
	which := target
	if strings.HasPrefix(target, "/api?v=") {
		which = "/api?v="
	} else if target == "/api" && held == "" {
		which = "first /api"
	}
	stage := "exchange"
	if connecting {
		stage = "connect"
	}
	return which + " " + stage + ": " + reason
}

// exchange is one GET, with If-None-Match validator unless empty (false when it failed,
// counted in the record, or was cancelled); a reused connection the server closed meanwhile
// is retried once on a new one.
func (p *page) exchange(ctx context.Context, target, validator string) (answer, bool) {
	var held string
	p.locked(func() { held = p.etag })
	for attempt := 1; attempt <= 2; attempt++ {
		reused := p.api != nil && p.api.used
		connecting := p.api == nil
		got, err := p.attempt(ctx, target, validator)
		connecting = connecting && p.api == nil
		if err == nil {
			return got, true
		}
		p.closeAPI()
		if ctx.Err() != nil {
			return answer{}, false // cancelled: not a failure of the request
		}
		name := errorName(err)
		if reused && attempt == 1 && name != "TooSlowError" {
			continue
		}
		request := failedRequest(target, held, connecting, name)
		p.crowd.record.add(func() {
			p.crowd.record.apiFailed[name]++
			p.crowd.record.failedRequests[request]++
		})
		return answer{}, false
	}
	return answer{}, false
}

func (p *page) attempt(ctx context.Context, target, validator string) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, requestDeadline)
	defer cancel()
	if p.api == nil {
		c, err := dial(ctx, p.crowd, p.index)
		if err != nil {
			return answer{}, err
		}
		p.api = c
	}
	c := p.api
	deadline, _ := ctx.Deadline()
	if err := c.SetDeadline(deadline); err != nil {
		return answer{}, err
	}
	stop := c.watch(ctx)
	defer stop()
	head := "GET " + target + " HTTP/1.1\r\nHost: " + p.crowd.hostHeader + "\r\n"
	head += "Accept: application/json\r\nAccept-Encoding: gzip\r\n"
	if validator != "" {
		head += "If-None-Match: " + validator + "\r\n"
	}
	started := time.Now()
	if _, err := c.Write([]byte(head + "\r\n")); err != nil {
		c.noteTimeout(err, target, started)
		return answer{}, err
	}
	c.used = true
	c.requests++
	status, headers, err := c.readHead()
	if err != nil {
		c.noteTimeout(err, target, started)
		return answer{}, err
	}
	if err := c.readBody(status, headers); err != nil {
		c.noteTimeout(err, target, started)
		return answer{}, err
	}
	c.lastDone = time.Now()
	if strings.ToLower(headers["connection"]) == "close" {
		p.closeAPI()
	}
	return answer{status, headers["etag"]}, nil
}

// goodStatus tells whether an answer's status is 200 or 304; another is counted as failed.
func (p *page) goodStatus(status int) bool {
	if status == 200 || status == 304 {
		return true
	}
	record := p.crowd.record
	record.add(func() { record.apiFailed[fmt.Sprintf("status %d", status)]++ })
	return false
}

// take holds the document an answer brought, if it is a new one (true: it changed).
func (p *page) take(got answer) bool {
	if !p.goodStatus(got.status) {
		return false
	}
	record := p.crowd.record
	etag := sameDocument(got.validator)
	isNew := false
	p.locked(func() {
		if got.status == 200 && etag != p.etag {
			p.etag, p.validator = etag, got.validator
			isNew = true
		}
	})
	if isNew {
		at := monotonic()
		record.add(func() { record.documents = append(record.documents, [3]any{p.index, at, etag}) })
	}
	return isNew
}

func (p *page) onEvent(ctx context.Context, etag string) {
	skip := false
	p.locked(func() {
		skip = etag == p.etag
		if !skip {
			p.announced, p.wanted = etag, etag
		}
	})
	if skip {
		return
	}
	p.fetchAPI(ctx, false)
	startRecheck := false
	p.locked(func() {
		startRecheck = etag != p.etag && !p.rechecking
		if startRecheck {
			p.rechecking = true
		}
	})
	if startRecheck {
		go p.recheck(ctx)
	}
}

// recheck asks again while the page does not hold the version the newest event named (one
// chain per page; a newer event takes it over).
func (p *page) recheck(ctx context.Context) {
	defer p.locked(func() { p.rechecking = false })
	for i := 0; i < rechecks; i++ {
		if !sleep(ctx, recheckSeconds*(1+rand.Float64())) {
			return
		}
		done := false
		p.locked(func() {
			done = p.announced == p.etag
			if !done {
				p.wanted = p.announced
			}
		})
		if done {
			return
		}
		p.fetchAPI(ctx, false)
	}
}

// sleep waits seconds; false when ctx ended first.
func sleep(ctx context.Context, seconds float64) bool {
	timer := time.NewTimer(time.Duration(seconds * float64(time.Second)))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *page) countStream(key string) {
	p.crowd.record.add(func() { p.crowd.record.streamFailures[key]++ })
}

// openStream connects and reads the stream's head within streamOpenDeadline.
func (p *page) openStream(ctx context.Context) (*conn, int, map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, streamOpenDeadline)
	defer cancel()
	c, err := dial(ctx, p.crowd, p.index)
	if err != nil {
		return nil, 0, nil, err
	}
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	request := "GET /api/events HTTP/1.1\r\nHost: " + p.crowd.hostHeader + "\r\n"
	if _, err := c.Write([]byte(request + "Accept: text/event-stream\r\n\r\n")); err != nil {
		_ = c.Close()
		return nil, 0, nil, err
	}
	status, headers, err := c.readHead()
	if err != nil {
		_ = c.Close()
		return nil, 0, nil, err
	}
	return c, status, headers, nil
}

// stream holds the event stream until it ends; the server's Retry-After (0 if none).
func (p *page) stream(ctx context.Context) float64 {
	record := p.crowd.record
	c, status, headers, err := p.openStream(ctx)
	if err != nil {
		p.countStream("open " + errorName(err))
		return 0
	}
	defer c.Close()
	if status != 200 {
		if status == 503 {
			record.add(func() { record.streamsRefused++ })
		} else {
			p.countStream(fmt.Sprintf("status %d", status))
		}
		retryAfter, _ := strconv.ParseFloat(headers["retry-after"], 64)
		return retryAfter
	}
	record.add(func() { record.streamsOpened++ })
	p.locked(func() { p.failures = 0 })
	go p.fetchAPI(ctx, true) // the page refreshes when the stream opens
	chunked := strings.ToLower(headers["transfer-encoding"]) == "chunked"
	var pending, buffer []byte
	for {
		_ = c.SetReadDeadline(time.Now().Add(streamSilence))
		var data []byte
		if chunked {
			data, err = c.readChunk()
		} else {
			if buffer == nil {
				buffer = make([]byte, streamReadSize)
			}
			var n int
			n, err = c.reader.Read(buffer)
			data = buffer[:n]
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		if err != nil {
			p.countStream(errorName(err))
			return 0
		}
		if len(data) == 0 {
			p.countStream("ended")
			return 0
		}
		text := bytes.ReplaceAll(append(pending, data...), []byte("\r\n"), []byte("\n"))
		events := bytes.Split(text, []byte("\n\n"))
		pending = append([]byte(nil), events[len(events)-1]...)
		for _, event := range events[:len(events)-1] {
			for _, line := range bytes.Split(event, []byte("\n")) {
				if !bytes.HasPrefix(line, []byte("data:")) {
					continue
				}
				etag := sameDocument(string(bytes.TrimSpace(line[5:])))
				held := ""
				p.locked(func() { held = p.etag })
				if etag != held { // else old news: no goroutine for it
					at := monotonic()
					record.add(func() {
						record.events = append(record.events, [3]any{p.index, at, etag})
					})
					go p.onEvent(ctx, etag)
				}
			}
		}
	}
}

// whileLive is the page's onTick while the stream is up: every poll seconds /api/sources
// (refreshSources), and every third tick the full refresh instead, which revalidates /api
// (the page's safety net against a missed event). The page also asks for the verdicts when
// a source changed state; the bench reads no body, so it leaves that rare request out.
func (p *page) whileLive(ctx context.Context) {
	for tick := 1; sleep(ctx, p.crowd.poll); tick++ {
		if tick%liveRevalidateTicks == 0 {
			p.fetchAPI(ctx, true)
		} else {
			p.refreshSources(ctx)
		}
	}
}

// refreshSources is /api/sources alone, queued behind the fetch in flight as the page's
// request queue does.
func (p *page) refreshSources(ctx context.Context) {
	select {
	case p.fetching <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-p.fetching }()
	p.fetchSources(ctx)
}

func (p *page) fetchSources(ctx context.Context) {
	record := p.crowd.record
	record.add(func() { record.sourcesRequests++ })
	if sources, ok := p.exchange(ctx, "/api/sources", ""); ok {
		p.goodStatus(sources.status)
	}
}

func (p *page) run(ctx context.Context) {
	p.fetchAPI(ctx, true)
	p.crowd.pageReady()
	for ctx.Err() == nil {
		var wait float64
		if p.crowd.useStreams {
			live, stopLive := context.WithCancel(ctx)
			revalidated := make(chan struct{})
			go func() {
				defer close(revalidated)
				p.whileLive(live)
			}()
			retryAfter := p.stream(ctx)
			stopLive()
			<-revalidated
			failures := 0
			p.locked(func() {
				p.failures++
				failures = p.failures
			})
			wait = retryDelay(retryAfter, failures, rand.Float64())
		} else {
			wait = p.crowd.seconds
		}
		polling, stopPolling := context.WithTimeout(
			ctx, time.Duration(wait*float64(time.Second)),
		)
		for sleep(polling, p.crowd.poll) {
			p.fetchAPI(polling, true)
		}
		stopPolling()
	}
}

type crowd struct {
	address, hostHeader string
	pages, firstPage    int
	seconds, poll       float64
	useStreams          bool
	ramp                int
	record              *record
	ready               chan struct{}
}

func (c *crowd) pageReady() {
	c.record.add(func() {
		c.record.readyPages++
		if c.record.readyPages == c.pages {
			c.record.failedOnArrival = total(c.record.apiFailed)
			close(c.ready)
		}
	})
}

// watchLoop records how late this process wakes up from a short sleep (record.loopLags):
// a crowd that cannot keep up is measuring itself, not the servers.
func (c *crowd) watchLoop() {
	for {
		asked := monotonic()
		time.Sleep(lagTick)
		woke := monotonic()
		late := woke - asked - lagTick.Seconds()
		if late >= lagKept {
			c.record.add(func() { c.record.loopLags = append(c.record.loopLags, [2]float64{woke, late}) })
		}
	}
}

// run starts the pages and returns when --seconds have passed or stdin closed.
func (c *crowd) run() {
	ctx := context.Background()
	over := make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(over) }) }
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		end()
	}()
	go func() {
		time.Sleep(time.Duration(c.seconds * float64(time.Second)))
		end()
	}()
	go func() {
		select {
		case <-c.ready:
			fmt.Println("ready")
		case <-over:
		}
	}()
	go c.watchLoop()
	go func() {
		for index := 0; index < c.pages; index++ {
			p := &page{
				index: c.firstPage + index, crowd: c, fetching: make(chan struct{}, 1),
				verdicts: "pending",
			}
			go p.run(ctx)
			if index%50 == 49 {
				time.Sleep(time.Duration(50 / float64(c.ramp) * float64(time.Second)))
			}
		}
	}()
	<-over
}

// raiseFileLimit gives every page's two connections a descriptor (root may raise the hard
// limit).
func raiseFileLimit(needed uint64) {
	var limit syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit) != nil || limit.Cur >= needed {
		return
	}
	wanted := syscall.Rlimit{Cur: needed, Max: limit.Max}
	if wanted.Max < needed {
		wanted.Max = needed
	}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &wanted) != nil {
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: limit.Max, Max: limit.Max})
	}
}

func main() {
	initClock()
	rand.Seed(time.Now().UnixNano())
	address := flag.String("url", "", "the server's URL (required)")
	pages := flag.Int("pages", 0, "open pages (required)")
	seconds := flag.Float64("seconds", 0, "how long the crowd runs at most (required)")
	poll := flag.Float64("poll", 10, "the page's ?poll= (s)")
	noStream := flag.Bool("no-stream", false, "pages only poll")
	ramp := flag.Int("ramp", rampPerSecond, "pages per second")
	firstPage := flag.Int("first-page", 0, "number of the first page (several processes)")
	out := flag.String("out", "", "where the JSON record goes (required)")
	flag.Parse()
	parsed, err := url.Parse(*address)
	if err != nil || parsed.Hostname() == "" || parsed.Port() == "" {
		fmt.Fprintf(os.Stderr, "--url needs a host and a port: %s\n", *address)
		os.Exit(2)
	}
	if *pages <= 0 || *seconds <= 0 || *out == "" || *ramp <= 0 {
		fmt.Fprintln(os.Stderr, "--pages, --seconds and --out are required (and --ramp > 0)")
		os.Exit(2)
	}
	raiseFileLimit(uint64(2**pages + 256))
	c := &crowd{
		address:    net.JoinHostPort(parsed.Hostname(), parsed.Port()),
		hostHeader: parsed.Host,
		pages:      *pages,
		firstPage:  *firstPage,
		seconds:    *seconds,
		poll:       *poll,
		useStreams: !*noStream,
		ramp:       *ramp,
		record: &record{
			started:        monotonic(),
			documents:      [][3]any{},
			events:         [][3]any{},
			apiFailed:      map[string]int{},
			failedRequests: map[string]int{},
			streamFailures: map[string]int{},
			loopLags:       [][2]float64{},
		},
		ready: make(chan struct{}),
	}
	c.run()
	data, err := json.Marshal(c.record.asJSON(*pages, *firstPage))
	if err == nil {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

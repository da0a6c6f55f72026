package wapooldtest

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// servingMsg is the message of the log line that gives the address.
const servingMsg = "wapoold serving"

// output is the daemon's stdout and stderr. os/exec writes to it from one
// goroutine (both are this one writer, so one pipe); Log reads it from
// others. It keeps the text, copies whole lines to the caller's writer, and
// sends the address of the first "wapoold serving" line to addr. mu guards
// the fields that follow it.
type output struct {
	to   io.Writer   // the caller's Options.Log; nil: none
	addr chan string // buffered: receives the address once

	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte // the start of a line whose newline has not come yet
	found   bool   // the address was sent
}

// Write never fails, so that the daemon never blocks on its log.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all.Write(p)
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.lineLocked(o.partial[:i+1])
		o.partial = o.partial[i+1:]
	}
	return len(p), nil
}

// lineLocked handles one whole line, its newline included.
func (o *output) lineLocked(line []byte) {
	if o.to != nil {
		_, _ = o.to.Write(line)
	}
	if o.found {
		return
	}
	if a, ok := servingAddr(line); ok {
		o.addr <- a
		o.found = true
	}
}

// flush hands on a last line that has no newline, once the output ended.
func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.lineLocked(append(o.partial, '\n'))
		o.partial = nil
	}
}

func (o *output) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.all.String()
}

// servingAddr returns the "listen" field of a "wapoold serving" log line, in
// either of wapoold's log formats: JSON ({"msg":"wapoold serving",
// "listen":"127.0.0.1:7440",…}) or console (time, level, caller and message
// separated by tabs, then the fields as one JSON object).
func servingAddr(line []byte) (string, bool) {
	var rec struct {
		Msg    string `json:"msg"`
		Listen string `json:"listen"`
	}
	if json.Unmarshal(line, &rec) == nil {
		return rec.Listen, rec.Msg == servingMsg && rec.Listen != ""
	}
	_, fields, ok := bytes.Cut(line, []byte("\t"+servingMsg+"\t"))
	if !ok || json.Unmarshal(fields, &rec) != nil || rec.Listen == "" {
		return "", false
	}
	return rec.Listen, true
}

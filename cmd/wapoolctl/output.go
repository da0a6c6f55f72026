package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// jsonOpts prints responses for scripts: the proto3 JSON mapping (lowerCamel
// names, enums by name), zero scalars included so that a script need not know
// the defaults, one object per line.
var jsonOpts = protojson.MarshalOptions{EmitDefaultValues: true}

// printProto writes m as one line of protojson.
func (c *cli) printProto(m proto.Message) error {
	b, err := jsonOpts.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding the answer: %w", err)
	}
	b = append(b, '\n')
	_, err = c.stdout.Write(b)
	return err
}

// writeJSONLine writes v (not a proto) as one line of JSON on stdout.
func (c *cli) writeJSONLine(v any) {
	b, _ := json.Marshal(v)
	c.stdout.Write(append(b, '\n'))
}

func stateName(s wapoolv1.SessionState) string {
	return strings.TrimPrefix(s.String(), "SESSION_STATE_")
}

func messageStateName(s wapoolv1.MessageState) string {
	return strings.TrimPrefix(s.String(), "MESSAGE_STATE_")
}

// phoneText shows digits as +digits, "-" when empty.
func phoneText(digits string) string {
	if digits == "" {
		return "-"
	}
	return "+" + digits
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// timeText shows a timestamp as local time and how long ago; "-" when unset.
func (c *cli) timeText(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	t := ts.AsTime().Local()
	return t.Format("2006-01-02 15:04:05") + " (" + ago(c.now().Sub(t)) + ")"
}

// agoText is the short form for tables: "3m ago"; "-" when unset.
func (c *cli) agoText(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ago(c.now().Sub(ts.AsTime()))
}

// ago rounds d to its largest unit: "12s ago", "5m ago", "3h ago", "4d ago".
func ago(d time.Duration) string {
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// bytesText shows n in binary units: "12.3 MiB".
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// oneLine folds white space and control characters to single spaces and
// cuts s to max runes with "…" (max 0: no cut), so a cell stays one line.
func oneLine(s string, max int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if max > 0 {
		if r := []rune(s); len(r) > max {
			return string(r[:max-1]) + "…"
		}
	}
	return s
}

package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// verdict is what fakewa's log says about one tenant's messages.
type verdict struct {
	Accepted   int // messages some Send attempt returned OK for
	Delivered  int // accepted messages fakewa recorded (per text, at most as many as accepted)
	Duplicates int // copies of a text beyond the number of messages accepted with it
	Lost       int // accepted messages with no copy in fakewa's log
	OutOfOrder int // SENT messages whose bubble arrived before a message accepted earlier
	Unexpected int // recorded texts that were never accepted
	Failed     int // accepted messages the daemon gave up on (FAILED)
	// Misattributed counts SENT messages whose WhatsApp id names no bubble
	// of fakewa's log with their text, or the bubble of another message: a
	// message answered SENT with an earlier message's bubble was lost.
	Misattributed int
	// Unconfirmed counts messages FAILED with reason UNCONFIRMED (clicked,
	// then the profile was restored from an older snapshot): reported, not
	// a fault by itself; Lost and Duplicates still judge whether each went
	// out once.
	Unconfirmed int
	// MediaAccepted counts the accepted messages with a file, and
	// MediaDelivered those of them that arrived (by caption, file name,
	// SHA-256 and kind; at most once each). MediaWrong counts arrivals with
	// a file whose caption is an accepted file message's but whose name,
	// hash or kind is not: they are in Unexpected too, and their message in
	// Lost.
	MediaAccepted, MediaDelivered, MediaWrong int
}

// ok says whether the verdict shows no fault.
func (v verdict) ok() bool {
	return v.Duplicates == 0 && v.Lost == 0 && v.OutOfOrder == 0 && v.Unexpected == 0 && v.Failed == 0 && v.Misattributed == 0
}

func (v *verdict) add(w verdict) {
	v.Accepted += w.Accepted
	v.Delivered += w.Delivered
	v.Duplicates += w.Duplicates
	v.Lost += w.Lost
	v.OutOfOrder += w.OutOfOrder
	v.Unexpected += w.Unexpected
	v.Failed += w.Failed
	v.Misattributed += w.Misattributed
	v.Unconfirmed += w.Unconfirmed
	v.MediaAccepted += w.MediaAccepted
	v.MediaDelivered += w.MediaDelivered
	v.MediaWrong += w.MediaWrong
}

// sentMsg is an accepted message as wapool ended it: its text (a file's
// caption), its file, and, once SENT, the WhatsApp id (the bubble's
// data-id) wapool reported.
type sentMsg struct {
	text string
	waID string    // "" unless SENT
	file *soakFile // nil: a text message
}

// arrival is a message in fakewa's log: its id (the bubble's data-id: the
// end of "true_<jid>_<id>", or the whole bare id of fact 20), text (a
// file's caption) and file.
type arrival struct {
	id   string
	text string
	file *soakFile // nil: a text message
}

// judge compares the messages a producer had accepted, in acceptance order,
// with fakewa's log of the tenant's account, in arrival order. Texts repeat
// (the soak sends the same text again and again): copies are counted per
// text (with a file: per caption, file name, hash and kind; see judgeKey),
// and each SENT message's WhatsApp id must name a bubble of its own, with
// its text and file, that no other message claims. Order is judged on
// those bubbles: in acceptance order they must have arrived in order.
func judge(accepted []sentMsg, arrived []arrival) verdict {
	v := verdict{Accepted: len(accepted)}
	want := map[string]int{}
	media := map[string]bool{}    // keys of the messages with a file
	captions := map[string]bool{} // their captions
	for _, m := range accepted {
		k := judgeKey(m.text, m.file)
		want[k]++
		if m.file != nil {
			v.MediaAccepted++
			media[k] = true
			captions[m.text] = true
		}
	}
	got := map[string]int{}
	pos := make(map[string]int, len(arrived)) // arrival id → index
	for i, a := range arrived {
		k := judgeKey(a.text, a.file)
		got[k]++
		pos[a.id] = i
		if a.file != nil && want[k] == 0 && captions[a.text] {
			v.MediaWrong++
		}
	}
	for k, n := range got {
		if want[k] == 0 {
			v.Unexpected += n
			continue
		}
		v.Delivered += min(n, want[k])
		v.Duplicates += max(0, n-want[k])
		if media[k] {
			v.MediaDelivered += min(n, want[k])
		}
	}
	v.Lost = v.Accepted - v.Delivered
	claimed := map[int]bool{}
	highest := -1
	for _, m := range accepted {
		if m.waID == "" {
			continue
		}
		i, ok := pos[messageIDOf(m.waID)]
		if !ok || judgeKey(arrived[i].text, arrived[i].file) != judgeKey(m.text, m.file) || claimed[i] {
			v.Misattributed++
			continue
		}
		claimed[i] = true
		if i < highest {
			v.OutOfOrder++
		}
		highest = max(highest, i)
	}
	return v
}

// messageIDOf gives the message id of a WhatsApp id: the last part of
// "true_<jid>_<id>", or a bare id (fact 20) as it is.
func messageIDOf(waID string) string {
	if !strings.HasPrefix(waID, "true_") {
		return waID
	}
	return waID[strings.LastIndex(waID, "_")+1:]
}

// tenantResult is one row of the summary.
type tenantResult struct {
	tenant  string
	account string
	verdict
	resent      int // accepted messages typed into a browser more than once (attempts > 1)
	bubbleFound int // accepted messages found sent by an attempt cut short (daemon log)
}

// printSummary writes the per-tenant table and the total, and returns the
// total verdict.
func printSummary(w io.Writer, rows []tenantResult) verdict {
	var total verdict
	var resent, found int
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tenant\taccount\taccepted\tdelivered\tduplicates\tlost\tout-of-order\tunexpected\tfailed\tmisattributed\tunconfirmed\tfiles\tresent\tbubble-found\t")
	line := func(name, account string, v verdict, resent, found int) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d/%d\t%d\t%d\t\n", name, account,
			v.Accepted, v.Delivered, v.Duplicates, v.Lost, v.OutOfOrder, v.Unexpected, v.Failed, v.Misattributed, v.Unconfirmed,
			v.MediaDelivered, v.MediaAccepted, resent, found)
	}
	for _, r := range rows {
		line(r.tenant, r.account, r.verdict, r.resent, r.bubbleFound)
		total.add(r.verdict)
		resent += r.resent
		found += r.bubbleFound
	}
	fmt.Fprintln(tw, strings.Repeat("-", 6)+strings.Repeat("\t", 14))
	line("total", "", total, resent, found)
	tw.Flush()
	fmt.Fprintln(w, "resent: typed into a browser again after a failed attempt; bubble-found: a re-send avoided because")
	fmt.Fprintln(w, "the bubble of an attempt cut short by a kill was found (daemon log); unconfirmed: FAILED UNCONFIRMED (clicked, then")
	fmt.Fprintln(w, "restored from an older snapshot; lost and duplicates judge it); files: messages with a file that arrived")
	fmt.Fprintln(w, "once with their caption, name, SHA-256 and kind / accepted. Only the judge's columns decide.")
	return total
}

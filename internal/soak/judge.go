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
	Delivered  int // distinct accepted texts fakewa recorded
	Duplicates int // extra copies of accepted texts
	Lost       int // accepted texts fakewa never recorded
	OutOfOrder int // first arrivals that came after a message accepted later
	Unexpected int // recorded texts that were never accepted
	Failed     int // accepted messages the daemon gave up on (FAILED)
}

// ok says whether the verdict shows no fault.
func (v verdict) ok() bool {
	return v.Duplicates == 0 && v.Lost == 0 && v.OutOfOrder == 0 && v.Unexpected == 0 && v.Failed == 0
}

func (v *verdict) add(w verdict) {
	v.Accepted += w.Accepted
	v.Delivered += w.Delivered
	v.Duplicates += w.Duplicates
	v.Lost += w.Lost
	v.OutOfOrder += w.OutOfOrder
	v.Unexpected += w.Unexpected
	v.Failed += w.Failed
}

// judge compares the texts a producer had accepted, in acceptance order, with
// the texts fakewa recorded for the tenant's account, in arrival order.
// Accepted texts are unique. A first arrival is out of order when a text
// accepted after it arrived before it.
func judge(accepted, arrived []string) verdict {
	v := verdict{Accepted: len(accepted)}
	rank := make(map[string]int, len(accepted))
	for i, t := range accepted {
		rank[t] = i
	}
	seen := make(map[string]bool, len(arrived))
	highest := -1 // the highest acceptance rank that arrived so far
	for _, t := range arrived {
		r, ok := rank[t]
		switch {
		case !ok:
			v.Unexpected++
		case seen[t]:
			v.Duplicates++
		default:
			seen[t] = true
			v.Delivered++
			if r < highest {
				v.OutOfOrder++
			}
			highest = max(highest, r)
		}
	}
	v.Lost = v.Accepted - v.Delivered
	return v
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
	fmt.Fprintln(tw, "tenant\taccount\taccepted\tdelivered\tduplicates\tlost\tout-of-order\tunexpected\tfailed\tresent\tbubble-found\t")
	line := func(name, account string, v verdict, resent, found int) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", name, account,
			v.Accepted, v.Delivered, v.Duplicates, v.Lost, v.OutOfOrder, v.Unexpected, v.Failed, resent, found)
	}
	for _, r := range rows {
		line(r.tenant, r.account, r.verdict, r.resent, r.bubbleFound)
		total.add(r.verdict)
		resent += r.resent
		found += r.bubbleFound
	}
	fmt.Fprintln(tw, strings.Repeat("-", 6)+strings.Repeat("\t", 11))
	line("total", "", total, resent, found)
	tw.Flush()
	fmt.Fprintln(w, "resent: typed into a browser again after a failed attempt; bubble-found: a re-send avoided because")
	fmt.Fprintln(w, "the bubble of an attempt cut short by a kill was found (daemon log). Only the judge's columns decide.")
	return total
}

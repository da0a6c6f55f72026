package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wapool/wapool/fakewa"
	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// BenchmarkDiagnose measures the doctor's plain form (the Diagnose RPC,
// read-only) on a warm tenant whose chat is open, over gRPC on loopback,
// -sends times after one unmeasured warm-up; beside it, the deep form
// (which opens the tenant's own chat and types) a few times. Metrics:
// plain-p50-ms, plain-p95-ms (goal: under 200 ms), deep-p50-ms,
// deep-p95-ms, and *-failed.
func BenchmarkDiagnose(b *testing.B) {
	once(b)
	e := setup(b, fakewa.Options{})
	d := e.start(b, filepath.Join(e.root, "doctor"))
	e.link(b, d, tenantSend, accountWapool)
	if _, _, err := d.send(tenantSend, "+"+recipient(9, 0), text("doc", 0)); err != nil {
		b.Fatal(err)
	}
	progress("%s: %d plain doctor calls, then 5 deep ones", b.Name(), *sendsFlag)
	call := func(deep bool) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		t0 := time.Now()
		r, err := d.Client().Diagnose(ctx, &wapoolv1.DiagnoseRequest{TenantId: tenantSend, Deep: deep})
		took := time.Since(t0)
		if err != nil {
			return 0, err
		}
		for _, c := range r.GetChecks() {
			if !c.GetOk() {
				return 0, fmt.Errorf("check %s failed: %s", c.GetName(), c.GetDetail())
			}
		}
		return took, nil
	}
	plain, deep := &route{}, &route{}
	for i := 0; i <= *sendsFlag; i++ {
		took, err := call(false)
		plain.record(b, "plain", i, err, took, nil)
	}
	for i := 0; i <= 5; i++ {
		took, err := call(true)
		deep.record(b, "deep", i, err, took, nil)
	}
	plain.report(b, "plain")
	deep.report(b, "deep")
}

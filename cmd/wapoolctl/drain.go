package main

import (
	"encoding/json"
	"fmt"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

// cmdDrain tells a cluster node to move its tenants to the other nodes
// (DrainNode): the preStop hook of the Kubernetes cluster variant, and what
// an operator runs before taking a node down by hand.
func (c *cli) cmdDrain(args []string) error {
	fs := c.flagSet("drain")
	c.g.register(fs, true)
	rest, err := c.parseCommand("drain", fs, args, 1, 1)
	if err != nil {
		return err
	}
	node := rest[0]
	if err := c.connect("drain"); err != nil {
		return err
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	if _, err := c.client.DrainNode(ctx, &wapoolv1.DrainNodeRequest{NodeId: node}); err != nil {
		return c.fail(ctx, err, callFailure{op: "drain"})
	}
	if c.g.output == outputJSON {
		b, _ := json.Marshal(struct {
			Node     string `json:"node"`
			Draining bool   `json:"draining"`
		}{node, true})
		fmt.Fprintln(c.stdout, string(b))
		return nil
	}
	fmt.Fprintf(c.stdout, "node %s is draining: its tenants move to the other nodes (wapoolctl list shows where)\n", node)
	return nil
}

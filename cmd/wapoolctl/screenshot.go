package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	wapoolv1 "github.com/wapool/wapool/proto/wapool/v1"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

func (c *cli) cmdScreenshot(args []string) error {
	fs := c.flagSet("screenshot")
	c.g.register(fs, false) // -o is the file here
	var out string
	for _, name := range []string{"o", "f", "out"} {
		fs.StringVar(&out, name, "", "")
	}
	pos, err := c.parseCommand("screenshot", fs, args, 1, 1)
	if err != nil {
		return err
	}
	if out == "" {
		return usagef("screenshot", "name the PNG file with -o file.png (or -o - for stdout)")
	}
	if err := c.connect("screenshot"); err != nil {
		return err
	}
	ctx, cancel := c.callCtx()
	defer cancel()
	resp, err := c.client.Screenshot(ctx, &wapoolv1.ScreenshotRequest{TenantId: pos[0]})
	if err != nil {
		return c.fail(ctx, err, callFailure{op: "screenshot", tenant: pos[0]})
	}
	png := resp.GetPng()
	if !bytes.HasPrefix(png, pngMagic) {
		return errors.New("the daemon's screenshot is not a PNG")
	}
	if out == "-" {
		_, err := c.stdout.Write(png)
		return err
	}
	// 0600: the page shows private chats.
	if err := os.WriteFile(out, png, 0o600); err != nil {
		return fmt.Errorf("writing the screenshot: %w", err)
	}
	if c.g.output == outputJSON {
		c.writeJSONLine(struct {
			Path  string `json:"path"`
			Bytes int    `json:"bytes"`
		}{out, len(png)})
		return nil
	}
	fmt.Fprintf(c.stdout, "wrote %s (%s)\n", out, bytesText(int64(len(png))))
	return nil
}

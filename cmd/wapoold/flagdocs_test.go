package main

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The files that document every flag, from this package's directory.
var (
	envExample = filepath.Join("..", "..", "deploy", "systemd", "wapoold.env")
	readme     = filepath.Join("..", "..", "README.md")
)

// TestFlagsDocumented keeps wapoold's flags, deploy/systemd/wapoold.env and
// the README's flag table in step: every flag has its WAPOOL_* twin in the
// env file (commented or not) and a row in the table, and neither names a
// flag that does not exist.
func TestFlagsDocumented(t *testing.T) {
	var flags []string
	newFlagSet(&config{}).VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
	if len(flags) < 10 {
		t.Fatalf("newFlagSet defines %d flags: %v", len(flags), flags)
	}
	twins := map[string]string{} // WAPOOL_* -> flag
	for _, f := range flags {
		twins[envTwin(f)] = f
	}

	env := envVariables(t, envExample)
	var noTwin, unknownEnv []string
	for _, f := range flags {
		if !env[envTwin(f)] {
			noTwin = append(noTwin, envTwin(f))
		}
	}
	for v := range env {
		if twins[v] == "" {
			unknownEnv = append(unknownEnv, v)
		}
	}
	if len(noTwin) > 0 {
		slices.Sort(noTwin)
		t.Errorf("%s lacks the twins of these flags (add them, commented, with their defaults):\n\t%s", envExample, strings.Join(noTwin, "\n\t"))
	}
	if len(unknownEnv) > 0 {
		slices.Sort(unknownEnv)
		t.Errorf("%s sets variables that are the twin of no wapoold flag (the daemon ignores them):\n\t%s", envExample, strings.Join(unknownEnv, "\n\t"))
	}

	table := readmeFlags(t, readme)
	var noRow, unknownRow []string
	for _, f := range flags {
		if !table[f] {
			noRow = append(noRow, "--"+f)
		}
	}
	for f := range table {
		if !slices.Contains(flags, f) {
			unknownRow = append(unknownRow, "--"+f)
		}
	}
	if len(noRow) > 0 {
		slices.Sort(noRow)
		t.Errorf("%s: the flag table has no row for:\n\t%s", readme, strings.Join(noRow, "\n\t"))
	}
	if len(unknownRow) > 0 {
		slices.Sort(unknownRow)
		t.Errorf("%s: the flag table names flags wapoold does not define:\n\t%s", readme, strings.Join(unknownRow, "\n\t"))
	}
}

// envVariables returns the WAPOOL_* variables assigned in an env file,
// commented assignments included ("#WAPOOL_LISTEN=…").
func envVariables(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assignment := regexp.MustCompile(`^#?\s*(WAPOOL_[A-Z0-9_]+)=`)
	vars := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		if m := assignment.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			vars[m[1]] = true
		}
	}
	if len(vars) == 0 {
		t.Fatalf("%s assigns no WAPOOL_* variable", path)
	}
	return vars
}

// readmeFlags returns the flags named (`--name`) in the first cell of the
// rows of the README's flag table, the table whose header is
// "| flag | default | meaning |".
func readmeFlags(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	name := regexp.MustCompile("`--([a-z0-9-]+)`")
	flags := map[string]bool{}
	found, in := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !in {
			if strings.ReplaceAll(line, " ", "") == "|flag|default|meaning|" {
				found, in = true, true
			}
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.Trim(cells[1], " -:") == "" { // the |---| line
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			flags[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("%s has no flag table (header | flag | default | meaning |)", path)
	}
	return flags
}

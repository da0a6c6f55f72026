package deploy

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// unit is a systemd unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// last returns the value in force of a key (the last one given).
func (u unit) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

func TestSystemdUnit(t *testing.T) {
	u := readUnit(t, filepath.Join("systemd", "wapoold.service"))
	for key, want := range map[string]string{
		"User":                  "wapool",
		"Group":                 "wapool",
		"StateDirectory":        "wapool",
		"ProtectSystem":         "strict",
		"ProtectHome":           "yes",
		"PrivateTmp":            "yes",
		"NoNewPrivileges":       "yes",
		"ProtectKernelTunables": "yes",
		"ProtectKernelModules":  "yes",
		"ProtectControlGroups":  "yes",
		"KillMode":              "mixed",
		"KillSignal":            "SIGTERM",
		"Restart":               "on-failure",
		"CapabilityBoundingSet": "",
	} {
		if _, ok := u["Service"][key]; !ok {
			t.Errorf("[Service] lacks %s=", key)
		} else if got := u.last("Service", key); got != want {
			t.Errorf("%s=%s, want %s", key, got, want)
		}
	}
	if v := u.last("Service", "DynamicUser"); v != "" && v != "no" {
		t.Errorf("DynamicUser=%s: profiles need a stable owner", v)
	}
	exec := strings.Fields(u.last("Service", "ExecStart"))
	if len(exec) == 0 || exec[0] != "/usr/local/bin/wapoold" || argValue(exec, "--data-dir") != dataDir || argValue(exec, "--log-format") != "json" {
		t.Errorf("ExecStart=%v, want /usr/local/bin/wapoold --data-dir %s --log-format json", exec, dataDir)
	}
	if n, err := strconv.Atoi(u.last("Service", "LimitNOFILE")); err != nil || n < 4096 {
		t.Errorf("LimitNOFILE=%s, want a number of at least 4096", u.last("Service", "LimitNOFILE"))
	}

	// The stop timeout must fit the graceful stop.
	stop, err := time.ParseDuration(u.last("Service", "TimeoutStopSec") + "s")
	if err != nil || stop <= stopTimeout*time.Second {
		t.Errorf("TimeoutStopSec=%s, want more than the %d s graceful stop", u.last("Service", "TimeoutStopSec"), stopTimeout)
	}

	// Chromium's sandbox needs user, pid and net namespaces; V8 needs W+X
	// memory.
	ns := strings.Fields(u.last("Service", "RestrictNamespaces"))
	if !slices.Equal(slices.Sorted(slices.Values(ns)), []string{"net", "pid", "user"}) {
		t.Errorf("RestrictNamespaces=%v, want exactly user pid net (Chromium's sandbox)", ns)
	}
	if v := u.last("Service", "MemoryDenyWriteExecute"); v == "yes" || v == "true" {
		t.Error("MemoryDenyWriteExecute=yes breaks V8's JIT")
	}
	if got := u.last("Install", "WantedBy"); got != "multi-user.target" {
		t.Errorf("WantedBy=%s", got)
	}

	// The user the unit runs as is the one sysusers creates.
	b, err := os.ReadFile(filepath.Join("systemd", "wapool.sysusers"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^u wapool - .* /var/lib/wapool `).Match(b) {
		t.Errorf("wapool.sysusers does not create the user wapool with home %s", dataDir)
	}
}

func TestSystemdEnvExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("systemd", "wapoold.env"))
	if err != nil {
		t.Fatal(err)
	}
	assignment := regexp.MustCompile(`^#?(WAPOOL_[A-Z0-9_]+)=`)
	seen := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if m := assignment.FindStringSubmatch(line); m != nil {
			seen[m[1]] = true
			continue
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			t.Errorf("not a WAPOOL_ assignment or comment: %q", line)
		}
	}
	for _, v := range []string{
		"WAPOOL_LISTEN", "WAPOOL_AUTH_TOKENS", "WAPOOL_TLS_CERT", "WAPOOL_TLS_KEY", "WAPOOL_TLS_CLIENT_CA", "WAPOOL_INSECURE", "WAPOOL_MAX_WARM", "WAPOOL_METRICS_ADDR",
		"WAPOOL_WEBHOOK_URL", "WAPOOL_WEBHOOK_SECRET_FILE", "WAPOOL_CONSOLE_ADDR",
		"WAPOOL_STORE", "WAPOOL_PROFILE_STORE", "WAPOOL_NODE_ID", "WAPOOL_ADVERTISE_ADDR", "WAPOOL_LEASE_TTL", "WAPOOL_SNAPSHOT_EVERY",
	} {
		if !seen[v] {
			t.Errorf("wapoold.env does not show %s", v)
		}
	}
	twins := wapooldEnvTwins(t)
	for _, v := range slices.Sorted(maps.Keys(seen)) {
		checkEnvTwin(t, twins, "wapoold.env", v)
	}
}

// pendingFlags are wapoold flags the deploy files already use that
// cmd/wapoold may not define yet (cluster mode, DESIGN.md). Once a flag is
// defined its entry here is inert.
var pendingFlags = []string{"store", "profile-store", "node-id", "advertise-addr", "lease-ttl", "snapshot-every"}

// flagDef matches a flag definition on a flag.FlagSet in Go source:
// fs.StringVar(&c.X, "name", ...), fs.Var(v, "name", ...), fs.Duration("name", ...).
var flagDef = regexp.MustCompile(`\.(?:(?:String|Bool|Int|Int64|Uint|Uint64|Float64|Duration|Text|Func|BoolFunc)?Var\(\s*[^,()]+,|(?:String|Bool|Int|Int64|Uint|Uint64|Float64|Duration|Func|BoolFunc)\()\s*"([a-z][a-z0-9-]*)"`)

// wapooldEnvTwins returns the WAPOOL_* twin of every flag defined in
// cmd/wapoold, mapped to the flag's name.
func wapooldEnvTwins(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "cmd", "wapoold", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	twins := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range flagDef.FindAllSubmatch(b, -1) {
			name := string(m[1])
			twins["WAPOOL_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))] = name
		}
	}
	// A sanity check of the parser: flags every wapoold has.
	for _, v := range []string{"WAPOOL_LISTEN", "WAPOOL_DATA_DIR", "WAPOOL_STOP_TIMEOUT", "WAPOOL_AUTH_TOKENS"} {
		if twins[v] == "" {
			t.Fatalf("found no flag for %s in cmd/wapoold (found %v): fix flagDef", v, slices.Sorted(maps.Keys(twins)))
		}
	}
	return twins
}

// checkEnvTwin fails when env, used in where, is the twin of no wapoold flag
// (a misspelt variable is silently ignored by the daemon). A flag of
// pendingFlags not yet in cmd/wapoold is only logged.
func checkEnvTwin(t *testing.T, twins map[string]string, where, env string) {
	t.Helper()
	if twins[env] != "" {
		return
	}
	for _, p := range pendingFlags {
		if env == "WAPOOL_"+strings.ToUpper(strings.ReplaceAll(p, "-", "_")) {
			t.Logf("%s: %s is the twin of --%s, which cmd/wapoold does not define yet", where, env, p)
			return
		}
	}
	t.Errorf("%s: %s is the twin of no wapoold flag", where, env)
}

// instruction is one Dockerfile instruction.
type instruction struct{ cmd, args string }

// readDockerfile returns the instructions of path per build stage.
func readDockerfile(t *testing.T, path string) [][]instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]instruction
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", path, in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

// final returns the args of the last cmd in stage, or "".
func final(stage []instruction, cmd string) string {
	for i := len(stage) - 1; i >= 0; i-- {
		if stage[i].cmd == cmd {
			return stage[i].args
		}
	}
	return ""
}

func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Fatalf("%s %s: not the exec (JSON) form: %v", what, args, err)
	}
	return v
}

func dockerfilePath() string { return filepath.Join("docker", "Dockerfile") }

// dockerfileUID is the uid of the runtime stage's USER.
func dockerfileUID(t *testing.T) string {
	t.Helper()
	stages := readDockerfile(t, dockerfilePath())
	uid, _, _ := strings.Cut(final(stages[len(stages)-1], "USER"), ":")
	return uid
}

func TestDockerfile(t *testing.T) {
	stages := readDockerfile(t, dockerfilePath())
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a builder and a runtime", len(stages))
	}
	build, run := stages[0], stages[len(stages)-1]
	if from := final(build, "FROM"); !strings.HasPrefix(from, "golang:") {
		t.Errorf("builder FROM %s", from)
	}
	var buildCmds string
	for _, in := range build {
		if in.cmd == "RUN" {
			buildCmds += in.args + "\n"
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/wapoold", "./cmd/wapoolctl"} {
		if !strings.Contains(buildCmds, want) {
			t.Errorf("builder RUN lacks %s", want)
		}
	}

	if from := final(run, "FROM"); !strings.HasPrefix(from, "debian:") {
		t.Errorf("runtime FROM %s, want Debian", from)
	}
	var installs string
	for _, in := range run {
		if in.cmd == "RUN" && strings.Contains(in.args, "apt-get install") {
			installs += in.args
		}
	}
	for _, pkg := range []string{"chromium", "tini", "ca-certificates"} {
		if !slices.Contains(strings.Fields(installs), pkg) {
			t.Errorf("runtime does not install %s", pkg)
		}
	}

	// tini is PID 1 and runs wapoold.
	ep := execForm(t, "ENTRYPOINT", final(run, "ENTRYPOINT"))
	if len(ep) < 3 || ep[0] != "/usr/bin/tini" || ep[1] != "--" || ep[2] != "/usr/local/bin/wapoold" {
		t.Errorf("ENTRYPOINT %v, want tini -- wapoold", ep)
	}

	// Non-root, numeric (so Kubernetes can check runAsNonRoot).
	uid := dockerfileUID(t)
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q, want a numeric non-root uid", final(run, "USER"))
	}

	vol := final(run, "VOLUME")
	if vol != dataDir && !slices.Contains(strings.Fields(strings.Trim(vol, `[]"`)), dataDir) {
		t.Errorf("VOLUME %s, want %s", vol, dataDir)
	}

	// A non-loopback listen needs credentials or wapoold refuses to start.
	cmd := execForm(t, "CMD", final(run, "CMD"))
	if listen := argValue(cmd, "--listen"); !strings.HasPrefix(listen, "127.") && !strings.HasPrefix(listen, "localhost:") {
		if argValue(cmd, "--auth-tokens") == "" && argValue(cmd, "--tls-cert") == "" && !slices.Contains(cmd, "--insecure") {
			t.Errorf("CMD %v listens on %s without credentials", cmd, listen)
		}
	}
	if argValue(cmd, "--data-dir") != dataDir {
		t.Errorf("CMD %v, want --data-dir %s", cmd, dataDir)
	}

	// Files copied from the build context exist (the context is the
	// repository root).
	for _, st := range stages {
		for _, in := range st {
			if in.cmd != "COPY" || strings.Contains(in.args, "--from=") {
				continue
			}
			var srcs []string
			for _, f := range strings.Fields(in.args) {
				if !strings.HasPrefix(f, "--") {
					srcs = append(srcs, f)
				}
			}
			for _, src := range srcs[:len(srcs)-1] {
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		}
	}
}

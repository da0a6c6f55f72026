package snapshot

import (
	"bufio"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"

	"filippo.io/age"
)

// Encryption at rest. A Store opened with keys writes each snapshot as
//
//	age(zstd(tar)) ‖ tag
//
// age (filippo.io/age, X25519 recipients) encrypts and authenticates the
// archive to the first key; every key of the store decrypts. age alone does
// not say who wrote a file (anyone who knows a recipient can encrypt to
// it), nor for which tenant and generation, so the 32-byte tag that follows
// is HMAC-SHA256, under a key derived from the age identity (HKDF-SHA256),
// over a binding header (tenant, generation, lease epoch) and the whole
// ciphertext. Restore checks the tag before it puts anything in place, and
// the manifest inside repeats the three: an object copied under another
// tenant's key, or an older generation put where a newer one is expected,
// is refused (ErrCorrupt), and so is a plaintext object or one no key of
// the store decrypts.

// tagSize is the trailer's size: an HMAC-SHA256.
const tagSize = sha256.Size

// ErrNoKey: Open was given neither keys nor Options.Unencrypted.
var ErrNoKey = errors.New("snapshot: no encryption key (and unencrypted snapshots not allowed)")

// ParseKeys reads age X25519 identities ("AGE-SECRET-KEY-1…", as
// age-keygen writes them), one per line; blank lines and lines starting
// with '#' are skipped. The first key encrypts new snapshots; all of them
// decrypt, so a new key goes first and old ones stay below it until no
// snapshot needs them (rotation).
func ParseKeys(r io.Reader) ([]*age.X25519Identity, error) {
	var keys []*age.X25519Identity
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, err := age.ParseX25519Identity(line)
		if err != nil {
			// The line itself is never quoted: it is a secret.
			return nil, fmt.Errorf("snapshot key line %d: not an age X25519 identity (AGE-SECRET-KEY-1…)", n)
		}
		keys = append(keys, id)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("snapshot keys: no key in the file")
	}
	return keys, nil
}

// LoadKeys reads ParseKeys's format from a file (--snapshot-key-file). The
// file must not be accessible to others (its group may read it, as a
// Kubernetes Secret mounted for fsGroup is).
func LoadKeys(path string) ([]*age.X25519Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot keys: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("snapshot keys %s: mode %v: open to others, want 0600 (or 0640)", path, info.Mode().Perm())
	}
	keys, err := ParseKeys(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// sealer is a key of the store: its identity decrypts, its recipient
// encrypts, and macKey authenticates the binding.
type sealer struct {
	id     *age.X25519Identity
	macKey []byte
}

func newSealer(id *age.X25519Identity) (sealer, error) {
	k, err := hkdf.Key(sha256.New, []byte(id.String()), nil, "wapool snapshot binding v2", sha256.Size)
	if err != nil {
		return sealer{}, err
	}
	return sealer{id: id, macKey: k}, nil
}

// mac starts the tag of a snapshot of tenant at ref: the ciphertext is
// written to it next.
func (k sealer) mac(tenant string, ref Ref) hash.Hash {
	h := hmac.New(sha256.New, k.macKey)
	io.WriteString(h, "wapool snapshot v2\ntenant "+tenant+"\ngen "+strconv.FormatUint(ref.Gen, 10)+"\nepoch "+strconv.FormatUint(ref.Epoch, 10)+"\n")
	return h
}

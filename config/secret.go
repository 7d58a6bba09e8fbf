package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DevSecretFile is where development keeps the signing secret it generated
// when BETTER_AUTH_SECRET is not set.
const DevSecretFile = ".data/auth-secret"

// LoadOrCreateSecret returns the signing secret kept at path, creating it
// (48 random bytes, base64, mode 0600) when it does not exist yet, so that
// tokens and cursors survive a restart without anything to configure.
// generated says whether this call created it. Several processes starting
// at once agree on one secret: the file appears whole, by a hard link, or
// not at all.
func LoadOrCreateSecret(path string) (secret string, generated bool, err error) {
	secret, err = readSecret(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("secret directory: %w", err)
	}
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("generate secret: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".auth-secret-*")
	if err != nil {
		return "", false, fmt.Errorf("write secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	secret = base64.StdEncoding.EncodeToString(raw)
	_, werr := tmp.WriteString(secret + "\n")
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return "", false, fmt.Errorf("write secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", false, fmt.Errorf("write secret: %w", err)
	} else if err != nil {
		// Another process created it first: use theirs.
		secret, err = readSecret(path)
		return secret, false, err
	}
	return secret, true, nil
}

// readSecret reads a secret file that only its owner may read.
func readSecret(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is readable by other users (mode %v); run: chmod 600 %s", path, info.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	secret := strings.TrimSpace(string(b))
	if err := CheckSecret(secret); err != nil {
		return "", fmt.Errorf("%s: %w; delete the file to generate a new one", path, err)
	}
	return secret, nil
}

// Package secretbox seals the secrets Uptake must read back (webhook
// signing secrets, tools' API tokens) with AES-256-GCM, so that a dump of
// the table does not reveal them in clear.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// prefix marks sealed values, so that a value stored in clear is never
// mistaken for one.
const prefix = "sealed:v1:"

// Box seals and opens secrets with one key.
type Box struct{ aead cipher.AEAD }

// New returns a box whose key is derived from keyMaterial (any length;
// the deployed stack generates it in AWS Secrets Manager).
func New(keyMaterial string) (*Box, error) {
	if len(keyMaterial) < 16 {
		return nil, errors.New("secret key material must be at least 16 characters")
	}
	key := sha256.Sum256([]byte(keyMaterial))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain with a fresh nonce; context binds the sealed value
// to where it is stored (a value copied elsewhere does not open).
func (b *Box) Seal(plain, context string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plain), []byte(context))
	return prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a sealed value stored under context.
func (b *Box) Open(sealed, context string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return "", errors.New("value is not sealed")
	}
	data, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize() {
		return "", errors.New("sealed value is corrupt")
	}
	plain, err := b.aead.Open(nil, data[:b.aead.NonceSize()], data[b.aead.NonceSize():], []byte(context))
	if err != nil {
		return "", errors.New("sealed value does not open with this key")
	}
	return string(plain), nil
}

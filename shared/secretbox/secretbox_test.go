package secretbox_test

import (
	"strings"
	"testing"

	"github.com/uptakehq/uptake/shared/secretbox"
)

func TestSealOpen(t *testing.T) {
	b, err := secretbox.New("a key of enough length")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal("whsec_123", "acme/typeform")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "whsec_123") {
		t.Fatalf("sealed value shows the secret: %s", sealed)
	}
	again, _ := b.Seal("whsec_123", "acme/typeform")
	if again == sealed {
		t.Error("two seals of the same secret are equal: the nonce is not fresh")
	}
	if got, err := b.Open(sealed, "acme/typeform"); err != nil || got != "whsec_123" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(sealed, "other/typeform"); err == nil {
		t.Error("a sealed value opened under another tenant's context")
	}
	other, _ := secretbox.New("another key of enough length")
	if _, err := other.Open(sealed, "acme/typeform"); err == nil {
		t.Error("a sealed value opened with another key")
	}
	if _, err := b.Open("whsec_123", "acme/typeform"); err == nil {
		t.Error("a value in clear was taken as sealed")
	}
	if _, err := secretbox.New("short"); err == nil {
		t.Error("a short key was accepted")
	}
}

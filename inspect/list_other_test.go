//go:build !linux

package inspect

import (
	"context"
	"errors"
	"testing"

	"github.com/udsgate/udsgate/uds"
)

func TestListOutsideLinuxIsUnsupported(t *testing.T) {
	_, err := List(context.Background(), Filter{})
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, uds.ErrUnsupported) {
		t.Fatalf("err = %v, want one wrapping ErrUnsupported and uds.ErrUnsupported", err)
	}
}

package uds

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddrLinuxLimits(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantLen int
		wantMax int // 0: accepted
	}{
		// sun_path is 108 bytes: a path needs its terminating NUL (unix(7)).
		{name: "path of 107 bytes", in: "/" + strings.Repeat("p", 106)},
		{name: "path of 108 bytes", in: "/" + strings.Repeat("p", 107), wantLen: 108, wantMax: 107},
		// An abstract name needs no NUL: '@' (its leading NUL) and 107 bytes fill sun_path.
		{name: "abstract name of 108 bytes", in: "@" + strings.Repeat("a", 107)},
		{name: "abstract name of 109 bytes", in: "@" + strings.Repeat("a", 108), wantLen: 109, wantMax: 108},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAddr(tt.in)
			if tt.wantMax == 0 {
				if err != nil {
					t.Fatalf("ParseAddr: %v", err)
				}
				return
			}
			var tl *PathTooLongError
			if !errors.As(err, &tl) || tl.Len != tt.wantLen || tl.Max != tt.wantMax {
				t.Fatalf("ParseAddr = %v, want *PathTooLongError{Len: %d, Max: %d}", err, tt.wantLen, tt.wantMax)
			}
		})
	}
}

package providers

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestLimitBody(t *testing.T) {
	tests := []struct {
		name          string
		body          int
		contentLength int64
		wantErr       bool
	}{
		{name: "under", body: 9},
		{name: "exactly the limit", body: 10},
		{name: "one byte over", body: 11, wantErr: true},
		{name: "far over", body: 1000, wantErr: true},
		{name: "declared over", body: 0, contentLength: 11, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{Body: io.NopCloser(strings.NewReader(strings.Repeat("x", tt.body))), ContentLength: tt.contentLength}
			err := LimitBody(resp, 10)
			var n int64
			if err == nil {
				n, err = io.Copy(io.Discard, resp.Body)
			}
			if tt.wantErr != errors.Is(err, ErrResponseTooLarge) {
				t.Fatalf("read %d bytes, err %v; want too large = %v", n, err, tt.wantErr)
			}
			if !tt.wantErr && n != int64(tt.body) {
				t.Fatalf("read %d bytes of %d", n, tt.body)
			}
		})
	}
}

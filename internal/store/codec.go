package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/firebreak-dev/firebreak/internal/incident"
)

// Helpers that both engines use to keep maps and lists as JSON text.

// EncodeMap returns m as JSON, or nil for an empty map.
func EncodeMap(m map[string]string) []byte {
	if len(m) == 0 {
		return nil
	}
	b, _ := json.Marshal(m) // a map of strings always marshals
	return b
}

// DecodeMap parses JSON text written by EncodeMap.
func DecodeMap(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode labels: %w", err)
	}
	return m, nil
}

// EncodeLinks returns links as JSON, or nil when there are none.
func EncodeLinks(l []incident.Link) []byte {
	if len(l) == 0 {
		return nil
	}
	b, _ := json.Marshal(l)
	return b
}

// DecodeLinks parses JSON text written by EncodeLinks.
func DecodeLinks(b []byte) ([]incident.Link, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var l []incident.Link
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("decode links: %w", err)
	}
	return l, nil
}

// NullBytes stores an empty slice as NULL.
func NullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

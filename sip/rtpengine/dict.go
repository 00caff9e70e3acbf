package rtpengine

// Dict is a decoded ng dictionary (a request or a reply).
type Dict map[string]any

// Str returns the string at key, or "".
func (d Dict) Str(key string) string {
	s, _ := d[key].(string)
	return s
}

// Int returns the integer at key, or 0.
func (d Dict) Int(key string) int64 {
	n, _ := d[key].(int64)
	return n
}

// Dict returns the dictionary at key, or nil.
func (d Dict) Dict(key string) Dict {
	m, _ := d[key].(map[string]any)
	return Dict(m)
}

// Strings returns the strings of the list at key (other elements are
// skipped).
func (d Dict) Strings(key string) []string {
	l, _ := d[key].([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

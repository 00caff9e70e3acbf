package ws

import "testing"

func TestStripHTML(t *testing.T) {
	cases := map[string]string{
		"hello":                              "hello",
		"<b>bold</b> text":                   "bold text",
		"<img src=x onerror=alert(1)>":       "",
		"<img src=x onerror=alert(1)":        "img src=x onerror=alert(1)",
		"a < b > c":                          "a  c",
		"1 < 2":                              "1  2",
		"<<script>script>alert(1)<</script>": "scriptalert(1)",
		"&lt;b&gt;":                          "&lt;b&gt;",
	}
	for in, want := range cases {
		if got := stripHTML(in); got != want {
			t.Errorf("stripHTML(%q) = %q, want %q", in, got, want)
		}
	}
}

package interop

import (
	"hash/fnv"
)

// wsURLs returns the browser dialect's WebSocket URLs: every node of a
// cluster (WSNodes), or the one WS URL.
func (d Deployment) wsURLs() []string {
	if len(d.WSNodes) > 0 {
		return d.WSNodes
	}
	if d.WS == "" {
		return nil
	}
	return []string{d.WS}
}

// nodeFor picks the WebSocket URL a scenario's party uses. With several
// nodes the caller's node is chosen by a hash of the scenario's name and
// the callee takes the next node, so the two sides of a call are always on
// different nodes and the matrix as a whole spreads its calls over every
// pair of neighbouring nodes. The choice depends on the name alone, so a
// scenario run on its own (--run) lands where it does in a full run.
func (d Deployment) nodeFor(scenario string, r role) (url string, index int) {
	urls := d.wsURLs()
	if len(urls) == 0 {
		return "", -1
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(scenario))
	i := int(h.Sum32() % uint32(len(urls)))
	if r == roleCallee {
		i = (i + 1) % len(urls)
	}
	return urls[i], i
}

// forParty returns the deployment as one party of a scenario sees it: WS
// is the URL of the node that party's browser-dialect agent connects to.
func (d Deployment) forParty(scenario string, r role) Deployment {
	if url, _ := d.nodeFor(scenario, r); url != "" {
		d.WS = url
	}
	return d
}

package jingle

// staticPT is an RFC 3551 static payload type.
type staticPT struct {
	name      string
	clockrate uint32
	channels  uint8
}

// staticPayloadType returns the RFC 3551 entry of a static payload type
// (protocols.md §2.3). G722 has clock 8000 for historical reasons.
func staticPayloadType(id uint8) (staticPT, bool) {
	switch id {
	case 0:
		return staticPT{"PCMU", 8000, 0}, true
	case 3:
		return staticPT{"GSM", 8000, 0}, true
	case 4:
		return staticPT{"G723", 8000, 0}, true
	case 5:
		return staticPT{"DVI4", 8000, 0}, true
	case 6:
		return staticPT{"DVI4", 16000, 0}, true
	case 7:
		return staticPT{"LPC", 8000, 0}, true
	case 8:
		return staticPT{"PCMA", 8000, 0}, true
	case 9:
		return staticPT{"G722", 8000, 0}, true
	case 10:
		return staticPT{"L16", 44100, 2}, true
	case 11:
		return staticPT{"L16", 44100, 0}, true
	case 12:
		return staticPT{"QCELP", 8000, 0}, true
	case 13:
		return staticPT{"CN", 8000, 0}, true
	case 14:
		return staticPT{"MPA", 90000, 0}, true
	case 15:
		return staticPT{"G728", 8000, 0}, true
	case 16:
		return staticPT{"DVI4", 11025, 0}, true
	case 17:
		return staticPT{"DVI4", 22050, 0}, true
	case 18:
		return staticPT{"G729", 8000, 0}, true
	}
	return staticVideoPT(id)
}

func staticVideoPT(id uint8) (staticPT, bool) {
	var name string
	switch id {
	case 25:
		name = "CelB"
	case 26:
		name = "JPEG"
	case 28:
		name = "nv"
	case 31:
		name = "H261"
	case 32:
		name = "MPV"
	case 33:
		name = "MP2T"
	case 34:
		name = "H263"
	default:
		return staticPT{}, false
	}
	return staticPT{name, 90000, 0}, true
}

// fillStatic completes a missing name or clockrate from RFC 3551.
func (p *PayloadType) fillStatic() {
	st, ok := staticPayloadType(p.ID)
	if !ok {
		return
	}
	if p.Name == "" {
		p.Name, p.Channels = st.name, st.channels
	}
	if p.Clockrate == 0 {
		p.Clockrate = st.clockrate
	}
}

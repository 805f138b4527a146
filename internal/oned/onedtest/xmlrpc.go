package onedtest

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// methodCall is an XML-RPC request as oned's xmlrpc-c server reads it.
type methodCall struct {
	Method string
	Params []any // string, int64, bool
}

type xmlValue struct {
	Int     *string `xml:"int"`
	I4      *string `xml:"i4"`
	I8      *string `xml:"i8"`
	String  *string `xml:"string"`
	Boolean *string `xml:"boolean"`
	Chars   string  `xml:",chardata"`
}

type xmlCall struct {
	XMLName xml.Name `xml:"methodCall"`
	Method  string   `xml:"methodName"`
	Params  []struct {
		Value xmlValue `xml:"value"`
	} `xml:"params>param"`
}

func parseCall(r io.Reader) (methodCall, error) {
	var c xmlCall
	if err := xml.NewDecoder(r).Decode(&c); err != nil {
		return methodCall{}, err
	}
	out := methodCall{Method: c.Method}
	for i, p := range c.Params {
		v := p.Value
		switch {
		case v.Int != nil || v.I4 != nil || v.I8 != nil:
			s := firstSet(v.Int, v.I4, v.I8)
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return methodCall{}, fmt.Errorf("param %d: %w", i, err)
			}
			out.Params = append(out.Params, n)
		case v.Boolean != nil:
			out.Params = append(out.Params, strings.TrimSpace(*v.Boolean) == "1")
		case v.String != nil:
			out.Params = append(out.Params, *v.String)
		default:
			// A value with no type element is a string (XML-RPC spec).
			out.Params = append(out.Params, v.Chars)
		}
	}
	return out, nil
}

func firstSet(ss ...*string) string {
	for _, s := range ss {
		if s != nil {
			return *s
		}
	}
	return ""
}

// response is one answer, written as RequestXRPC::make_response does
// (src/rm/xml-rpc/RequestXRPC.cc): [ok, body, errcode] and, on failure, the resource ID
// (int) and the replication index (i8).
type response struct {
	ok         bool
	str        string
	num        int
	isNum      bool
	code       int
	resourceID int
}

func (r response) write(w io.Writer) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\r\n<methodResponse>\r\n<params>\r\n<param><value><array><data>\r\n")
	if r.ok {
		b.WriteString("<value><boolean>1</boolean></value>\r\n")
	} else {
		b.WriteString("<value><boolean>0</boolean></value>\r\n")
	}
	if r.isNum {
		fmt.Fprintf(&b, "<value><i4>%d</i4></value>\r\n", r.num)
	} else {
		b.WriteString("<value><string>")
		_ = xml.EscapeText(&b, []byte(r.str))
		b.WriteString("</string></value>\r\n")
	}
	fmt.Fprintf(&b, "<value><i4>%d</i4></value>\r\n", r.code)
	if !r.ok {
		fmt.Fprintf(&b, "<value><i4>%d</i4></value>\r\n<value><i8>-1</i8></value>\r\n", r.resourceID)
	}
	b.WriteString("</data></array></value></param>\r\n</params>\r\n</methodResponse>\r\n")
	_, _ = io.WriteString(w, b.String())
}

// fault is what xmlrpc-c answers itself, before oned's code, for an unknown method or
// arguments of the wrong type.
func writeFault(w io.Writer, code int, msg string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\r\n<methodResponse>\r\n<fault>\r\n<value><struct>\r\n")
	fmt.Fprintf(&b, "<member><name>faultCode</name>\r\n<value><i4>%d</i4></value></member>\r\n", code)
	b.WriteString("<member><name>faultString</name>\r\n<value><string>")
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString("</string></value></member>\r\n</struct></value>\r\n</fault>\r\n</methodResponse>\r\n")
	_, _ = io.WriteString(w, b.String())
}

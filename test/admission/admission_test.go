package admission

import "testing"

// The comparison ignores only the quoted value, never the field or the message.
func TestWithoutQuotedValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`spec.image: Invalid value: "string": image must not contain spaces`, `spec.image: Invalid value: image must not contain spaces`},
		{`spec.image: Invalid value: "a \"b\"": image must not contain spaces`, `spec.image: Invalid value: image must not contain spaces`},
		{`spec.persistence.size: Invalid value: "": size must be greater than zero`, `spec.persistence.size: Invalid value: size must be greater than zero`},
		{`spec.database: Invalid value: database.external is required`, `spec.database: Invalid value: database.external is required`},
		{`spec.database.external.port: Invalid value: 70000: spec.database.external.port in body`, `spec.database.external.port: Invalid value: 70000: spec.database.external.port in body`},
		{`spec.service.type: Unsupported value: "ExternalName"`, `spec.service.type: Unsupported value: "ExternalName"`},
	} {
		if got := withoutQuotedValue(tc.in); got != tc.want {
			t.Errorf("withoutQuotedValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

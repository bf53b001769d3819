package template

import (
	"reflect"
	"regexp/syntax"
	"strings"
)

// boundFunc returns the most a Sprig function's result can hold (in
// measured bytes) for these arguments, whose measure is m, or an error. It
// may charge extra work for what the function computes beyond its input.
type boundFunc func(r *run, args []reflect.Value, m measured) (int, error)

// maxRegexp is the longest regular expression a template may use.
const maxRegexp = 4096

// bounds are the Sprig functions whose result can be larger than 4 times
// their arguments' measure (the default), or whose work is more than
// reading them. Every other function builds its result from its arguments
// with at most that growth: case changes, trimming, encoding, hashing,
// list and dict operations, parsing and formatting numbers and dates.
var bounds = map[string]boundFunc{
	"repeat": func(_ *run, a []reflect.Value, _ measured) (int, error) {
		return mul(max(intArg(a, 0), 0), len(strArg(a, 1))), nil
	},
	"indent":  indentBound(0),
	"nindent": indentBound(1),
	"wrap":    func(_ *run, a []reflect.Value, m measured) (int, error) { return 2*m.size + 64, nil },
	"wrapWith": func(_ *run, a []reflect.Value, m measured) (int, error) {
		return mul(m.size+1, len(strArg(a, 1))+1) + 64, nil
	},
	"replace": func(_ *run, a []reflect.Value, _ measured) (int, error) {
		old, repl, s := strArg(a, 0), strArg(a, 1), strArg(a, 2)
		return len(s) + mul(len(s)/max(len(old), 1)+1, len(repl)), nil
	},
	"join": func(_ *run, a []reflect.Value, m measured) (int, error) {
		return m.size + mul(countArg(a, 1), len(strArg(a, 0))), nil
	},
	"seq": func(_ *run, a []reflect.Value, _ measured) (int, error) {
		return mul(seqCount(a), 21), nil
	},
	"until": func(_ *run, a []reflect.Value, _ measured) (int, error) {
		n := intArg(a, 0)
		return mul(max(n, -n), 2*sizeUnit), nil
	},
	"untilStep": func(_ *run, a []reflect.Value, _ measured) (int, error) {
		start, stop, step := intArg(a, 0), intArg(a, 1), intArg(a, 2)
		if step == 0 || (stop > start) != (step > 0) {
			return 0, nil
		}
		span := stop - start
		return mul(max(span, -span)/max(step, -step)+1, 2*sizeUnit), nil
	},
	"randAlphaNum": randBound,
	"randAlpha":    randBound,
	"randAscii":    randBound,
	"randNumeric":  randBound,
	"randBytes": func(_ *run, a []reflect.Value, _ measured) (int, error) {
		return mul(max(intArg(a, 0), 0), 2) + 4, nil
	},
	"split":      splitBound(1, 3*sizeUnit),
	"splitn":     splitBound(2, 3*sizeUnit),
	"splitList":  splitBound(1, 2*sizeUnit),
	"toStrings":  func(_ *run, a []reflect.Value, m measured) (int, error) { return 4*m.size + mul(m.count, 24), nil },
	"toJson":     jsonBound,
	"toRawJson":  jsonBound,
	"mustToJson": jsonBound, "mustToRawJson": jsonBound,
	"toPrettyJson": jsonBound, "mustToPrettyJson": jsonBound,
	"toString": func(_ *run, a []reflect.Value, m measured) (int, error) { return 4*m.size + mul(m.count, 24), nil },
	"fromJson": decodeBound, "mustFromJson": decodeBound,
	"uniq": quadratic, "mustUniq": quadratic,
	"without": quadratic, "mustWithout": quadratic,
	"regexMatch": regexBound(0), "mustRegexMatch": regexBound(0),
	"regexFind": regexBound(0), "mustRegexFind": regexBound(0),
	"regexFindAll": regexBound(2 * sizeUnit), "mustRegexFindAll": regexBound(2 * sizeUnit),
	"regexSplit": regexBound(2 * sizeUnit), "mustRegexSplit": regexBound(2 * sizeUnit),
	"regexReplaceAll": regexReplaceBound, "mustRegexReplaceAll": regexReplaceBound,
	"regexReplaceAllLiteral": regexReplaceBound, "mustRegexReplaceAllLiteral": regexReplaceBound,
	"genPrivateKey": func(r *run, a []reflect.Value, _ measured) (int, error) {
		switch strArg(a, 0) {
		case "rsa":
			return 8 << 10, r.charge(costRSAKey)
		case "dsa":
			return 0, usageError("genPrivateKey \"dsa\" is not available in kseal templates (generating DSA parameters takes seconds): use \"ecdsa\", \"ed25519\" or \"rsa\"")
		}
		return 4 << 10, r.charge(costSmall)
	},
	"genCA":                     certBound(costCert),
	"genSelfSignedCert":         certBound(costCert),
	"genSignedCert":             certBound(costCert),
	"genCAWithKey":              certBound(costSmall),
	"genSelfSignedCertWithKey":  certBound(costSmall),
	"genSignedCertWithKey":      certBound(costSmall),
	"buildCustomCert":           certBound(costSmall),
	"bcrypt":                    fixed(costBcrypt, 128),
	"toYaml":                    jsonBound,
	"fromYaml":                  decodeBound,
	"filterPEM":                 keyBound,
	"certSANs":                  keyBound,
	"jwkPublicKeyPem":           keyBound,
	"jwkPrivateKeyPem":          keyBound,
	"htpasswd":                  fixed(costBcrypt, 1024),
	"filterCertChain":           keyBound,
	"rsaDecrypt":                rsaDecryptBound,
	"pkcs12key":                 pkcs12Bound,
	"pkcs12keyPass":             pkcs12Bound,
	"pkcs12cert":                pkcs12Bound,
	"pkcs12certPass":            pkcs12Bound,
	"pemToPkcs12":               encodeBound,
	"pemToPkcs12Pass":           encodeBound,
	"fullPemToPkcs12":           encodeBound,
	"fullPemToPkcs12Pass":       encodeBound,
	"pemTruststoreToPKCS12":     encodeBound,
	"pemTruststoreToPKCS12Pass": encodeBound,
}

func indentBound(extra int) boundFunc {
	return func(_ *run, a []reflect.Value, _ measured) (int, error) {
		s := strArg(a, 1)
		return len(s) + extra + mul(max(intArg(a, 0), 0), lineCount(s)), nil
	}
}

func randBound(_ *run, a []reflect.Value, _ measured) (int, error) {
	return max(intArg(a, 0), 0), nil
}

// splitBound: splitting the string argument at index i gives at most one
// part per byte, each costing per.
func splitBound(i, per int) boundFunc {
	return func(_ *run, a []reflect.Value, _ measured) (int, error) {
		s := strArg(a, i)
		return len(s) + mul(len(s)+1, per), nil
	}
}

// jsonBound: JSON escapes a byte in at most 6 ("\u00ff"), and the pretty
// form indents each element by two spaces per level.
func jsonBound(_ *run, _ []reflect.Value, m measured) (int, error) {
	return 6*m.size + mul(m.count, 2*m.depth+8) + 64, nil
}

// decodeBound: a decoded JSON document takes up to 16 times its text (a
// value in "[[],[],...]" costs a list); the result is measured after.
func decodeBound(r *run, _ []reflect.Value, m measured) (int, error) {
	return m.size, r.charge(mul(m.size, 16))
}

// quadratic: uniq and without compare every element with every other.
func quadratic(r *run, a []reflect.Value, m measured) (int, error) {
	n := countArg(a, 0)
	return 4*m.size + 64, r.charge(mul(n, max(n, len(a))))
}

// regexBound checks the regular expression (argument 0) and charges the
// matching: Go's regexp engine runs in time proportional to the pattern's
// and the input's sizes multiplied. per is the cost of one match in the
// result.
func regexBound(per int) boundFunc {
	return func(r *run, a []reflect.Value, m measured) (int, error) {
		re, s := strArg(a, 0), strArg(a, 1)
		if err := checkRegexp(r, re, s); err != nil {
			return 0, err
		}
		return len(s) + mul(len(s)+1, per) + 64, nil
	}
}

// maxRegexpProgram bounds the instructions of a compiled regular
// expression: "\pL{1000}" is short but compiles to a thousand of them.
const maxRegexpProgram = 16 << 10

// checkRegexp refuses a regular expression that is too long or compiles to
// too large a program, and charges its compiling and its matching over s:
// Go's engine takes time proportional to the program's size times the
// input's.
func checkRegexp(r *run, re, s string) error {
	if len(re) > maxRegexp {
		return usageError("the regular expression is %d bytes long, more than the %d a template may use", len(re), maxRegexp)
	}
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil // the function itself reports it
	}
	n := programSize(parsed)
	if n > maxRegexpProgram {
		return usageError("the regular expression compiles to more than %d instructions (counted repetitions multiply): make it simpler", maxRegexpProgram)
	}
	return r.charge(16*n + mul(len(s)+1, n/8+1))
}

// programSize estimates, without expanding it, how many instructions re
// compiles to (at most maxRegexpProgram+1).
func programSize(re *syntax.Regexp) int {
	n := 1
	for _, sub := range re.Sub {
		n += programSize(sub)
	}
	if re.Op == syntax.OpRepeat {
		n = mul(n, max(re.Max, re.Min, 1)+1)
	}
	return min(n, maxRegexpProgram+1)
}

// regexReplaceBound: every match (at most one per byte, and one more) is
// replaced by the replacement, whose group references ($1, 2 bytes each)
// each add at most the whole input over all matches.
func regexReplaceBound(r *run, a []reflect.Value, _ measured) (int, error) {
	re, s, repl := strArg(a, 0), strArg(a, 1), strArg(a, 2)
	if err := checkRegexp(r, re, s); err != nil {
		return 0, err
	}
	return len(s) + mul(len(s)+1, len(repl)) + mul(len(s), strings.Count(repl, "$")), nil
}

// certBound charges a certificate's key generation or parsing.
func certBound(cost int) boundFunc {
	return func(r *run, _ []reflect.Value, m measured) (int, error) {
		return 4*m.size + 16<<10, r.charge(cost)
	}
}

func fixed(cost, size int) boundFunc {
	return func(r *run, _ []reflect.Value, m measured) (int, error) {
		return m.size + size, r.charge(cost)
	}
}

// seqCount is the number of integers seq writes for its arguments.
func seqCount(a []reflect.Value) int {
	var start, end, step int
	switch len(a) {
	case 0:
		return 0
	case 1:
		start, end, step = 1, intArg(a, 0), 1
	case 2:
		start, end, step = intArg(a, 0), intArg(a, 1), 1
	default:
		start, step, end = intArg(a, 0), intArg(a, 1), intArg(a, 2)
	}
	span := end - start
	if span < 0 {
		span = -span
	}
	return span/max(step, -step, 1) + 2
}

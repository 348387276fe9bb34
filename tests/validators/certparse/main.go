// certparse: parse every PEM certificate given on the command line with Go's crypto/x509
// (ECDSA, Ed25519, RSA) or, for SM2-signed certificates, with tjfoc/gmsm (the Go SM2
// library packaged in Debian), and check each signature against its issuer when the
// issuer is among the files. Prints "ok N" or the first error, exit status 1 on error.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"math/big"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/tjfoc/gmsm/sm2"
)

var oidSM2WithSM3 = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}

type tbsAlg struct {
	Raw       asn1.RawContent
	TBS       asn1.RawValue
	Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
}

func main() {
	var std []*x509.Certificate
	var gm []*sm2.Certificate
	for _, name := range os.Args[1:] {
		data, err := os.ReadFile(name)
		if err != nil {
			fail("%s: %v", name, err)
		}
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			var outer tbsAlg
			if _, err := asn1.Unmarshal(block.Bytes, &outer); err != nil {
				fail("%s: not a certificate: %v", name, err)
			}
			if outer.Algorithm.Algorithm.Equal(oidSM2WithSM3) {
				c, err := sm2.ParseCertificate(block.Bytes)
				if err != nil {
					fail("%s: gmsm: %v", name, err)
				}
				gm = append(gm, c)
			} else {
				c, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					fail("%s: crypto/x509: %v", name, err)
				}
				std = append(std, c)
			}
		}
	}
	for _, c := range std {
		for _, p := range std {
			if bytes.Equal(c.RawIssuer, p.RawSubject) && (p != c || bytes.Equal(c.RawSubject, c.RawIssuer)) {
				if err := c.CheckSignatureFrom(p); err != nil && p != c {
					fail("crypto/x509: %s: signature by %s: %v", c.Subject, p.Subject, err)
				}
			}
		}
	}
	// gmsm's Certificate.CheckSignatureFrom hashes with an empty SM2 user id; certificates
	// (GM/T 0015) are signed with the default id 1234567812345678: verify with gmsm's SM2
	// primitive and that id.
	for _, c := range gm {
		for _, p := range gm {
			if bytes.Equal(c.RawIssuer, p.RawSubject) && p != c {
				pub, ok := p.PublicKey.(*ecdsa.PublicKey)
				if !ok {
					fail("gmsm: %s: issuer key is not an EC key", c.Subject)
				}
				var sig struct{ R, S *big.Int }
				if _, err := asn1.Unmarshal(c.Signature, &sig); err != nil {
					fail("gmsm: %s: signature is not DER: %v", c.Subject, err)
				}
				key := &sm2.PublicKey{Curve: pub.Curve, X: pub.X, Y: pub.Y}
				if !sm2.Sm2Verify(key, c.RawTBSCertificate, []byte("1234567812345678"), sig.R, sig.S) {
					fail("gmsm: %s: SM2 signature by %s does not verify", c.Subject, p.Subject)
				}
			}
		}
	}
	fmt.Printf("ok %d %d\n", len(std), len(gm))
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

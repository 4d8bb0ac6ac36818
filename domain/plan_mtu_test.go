package domain

import (
	"errors"
	"strings"
	"testing"
)

func mtuInput(mtu int, inPod bool, links ...Link) AddInput {
	spec := BondSpec{Name: "bond0", MTU: mtu, LinksInContainer: inPod, Options: BondOptions{Mode: ModeActiveBackup}}
	for _, l := range links {
		spec.Links = append(spec.Links, l.Name)
	}
	return AddInput{Spec: spec, Links: links}
}

func TestPlanAddRefusesMTUOutsideALinksRange(t *testing.T) {
	s1 := Link{Index: 2, Name: "s1", MTU: 1500, MinMTU: 68, MaxMTU: 3506}
	s2 := Link{Index: 3, Name: "s2", MTU: 1500, MinMTU: 68, MaxMTU: 65535}
	cases := []struct {
		name  string
		in    AddInput
		wants []string
	}{
		{"configured above one link's max", mtuInput(9000, true, s2, s1),
			[]string{`mtu: 9000 is outside the MTU range of link "s1" in the pod netns (68..3506`, `set "mtu" within 68..3506`}},
		{"configured below a link's min", mtuInput(1000, false, Link{Index: 2, Name: "eth0", MTU: 1500, MinMTU: 1280, MaxMTU: 9000}, s2),
			[]string{`mtu: 1000 is outside the MTU range of link "eth0" in the host netns (1280..9000`, `within 1280..9000`}},
		{"omitted: the smallest MTU is below another link's min", mtuInput(0, true,
			Link{Index: 2, Name: "a", MTU: 1000, MinMTU: 68}, Link{Index: 3, Name: "b", MTU: 1500, MinMTU: 1280}),
			[]string{`mtu: omitted, so the bond keeps the links' smallest MTU, 1000, which is outside the MTU range of link "b"`, `at least 1280`}},
		{"no common MTU", mtuInput(9000, true,
			Link{Index: 2, Name: "a", MTU: 9000, MinMTU: 9000, MaxMTU: 9600}, Link{Index: 3, Name: "b", MTU: 1500, MinMTU: 68, MaxMTU: 1500}),
			[]string{`link "b"`, "no MTU suits every link (one needs at least 9000, another takes at most 1500)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := PlanAdd(c.in)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("want a coded error, got %v", err)
			}
			if e.Code != CodeLinkUnusable {
				t.Errorf("code %d, want %d", e.Code, CodeLinkUnusable)
			}
			for _, w := range c.wants {
				if !strings.Contains(e.Msg, w) {
					t.Errorf("message %q lacks %q", e.Msg, w)
				}
			}
		})
	}
}

func TestPlanAddAcceptsMTUWithinEveryLinksRange(t *testing.T) {
	s1 := Link{Index: 2, Name: "s1", MTU: 1500, MinMTU: 68, MaxMTU: 3506}
	s2 := Link{Index: 3, Name: "s2", MTU: 1450}
	unreported := Link{Index: 4, Name: "s3", MTU: 1500} // driver reports no range
	for _, c := range []struct {
		in   AddInput
		want int
	}{
		{mtuInput(3506, true, s1, s2), 3506},
		{mtuInput(68, true, s1, s2), 68},
		{mtuInput(0, true, s1, s2), 1450},
		{mtuInput(65535, true, s2, unreported), 65535},
	} {
		p, err := PlanAdd(c.in)
		if err != nil {
			t.Fatalf("MTU %d: %v", c.in.Spec.MTU, err)
		}
		if p.Spec.MTU != c.want {
			t.Errorf("MTU %d: plan has %d, want %d", c.in.Spec.MTU, p.Spec.MTU, c.want)
		}
	}
}

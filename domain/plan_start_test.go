package domain

import (
	"slices"
	"testing"
)

// An IPAM that needs nothing of the bond starts, after the record, before
// the links are checked; PlanAdd lists those steps first. dhcp, and no
// IPAM, keep the record as the plan's first step, and dhcp's ADD follows
// bond up.
func TestPlanAddStartsIPAMBeforeObserving(t *testing.T) {
	s1 := Link{Index: 2, Name: "s1", MTU: 1500}
	s2 := Link{Index: 3, Name: "s2", MTU: 1500}
	kinds := func(steps []Step) []StepKind {
		var out []StepKind
		for _, s := range steps {
			out = append(out, s.Kind)
		}
		return out
	}
	for _, c := range []struct {
		name          string
		hasIPAM, dhcp bool
		started       int
		want          []StepKind
	}{
		{"host-local", true, false, 2, []StepKind{StepRecord, StepIPAMAdd, StepMoveToPod, StepMoveToPod,
			StepCreateBond, StepEnslave, StepEnslave, StepBondUp, StepConfigureIP, StepMarkReady}},
		{"dhcp", true, true, 0, []StepKind{StepRecord, StepMoveToPod, StepMoveToPod,
			StepCreateBond, StepEnslave, StepEnslave, StepBondUp, StepIPAMAdd, StepConfigureIP, StepMarkReady}},
		{"no IPAM", false, false, 0, []StepKind{StepRecord, StepMoveToPod, StepMoveToPod,
			StepCreateBond, StepEnslave, StepEnslave, StepBondUp, StepMarkReady}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := mtuInput(0, false, s1, s2)
			in.HasIPAM, in.IPAMNeedsLink = c.hasIPAM, c.dhcp
			p, err := PlanAdd(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(p.Steps); !slices.Equal(got, c.want) {
				t.Fatalf("steps %v, want %v", got, c.want)
			}
			if p.Started != c.started {
				t.Fatalf("Started %d, want %d", p.Started, c.started)
			}
			if start := AddStart(c.hasIPAM, c.dhcp); !slices.Equal(kinds(start), kinds(p.Steps[:p.Started])) {
				t.Fatalf("AddStart %v is not the plan's first steps %v", kinds(start), kinds(p.Steps[:p.Started]))
			}
			for i, s := range p.Steps {
				if s.Beside != (i == 1 && c.started == 2) {
					t.Fatalf("step %d %s: Beside %t", i, s, s.Beside)
				}
			}
		})
	}
}

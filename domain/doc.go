// Package domain holds the bond plugin's pure model: the bond specification
// parsed from a CNI network config, the kernel's bonding option rules, the
// observed state of links, the attachment record kept between ADD and DEL,
// and the plans (ordered steps with their undos) that the app layer executes.
//
// It imports only the standard library, so every rule here is testable
// without a kernel.
package domain

// Package director holds the end-to-end tests of kt's director side and of
// the tools around kt run: IPVS in the test VM (with kt lab inside it),
// BGP announcements to FRR, the control socket, the keepalived applet, kt
// sniff and tshark on kt's wire, alert mail and the status page. The VRRP
// failover tests are in internal/e2e; the two packages were split so that
// each stays well inside make test's package timeout, and share their
// helpers through internal/e2e/e2elab.
package director

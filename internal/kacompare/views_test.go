package kacompare

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestBraceViews: on files whose braces keepalived's processes count
// differently from how its VRRP process reads the blocks (a value block
// written without its "{", an unknown keyword followed by "{"), the
// instances kt would run have the settings keepalived 2.2.7's VRRP process
// shows in its configuration dump (-d).
func TestBraceViews(t *testing.T) {
	ka, ip := needKeepalived(t)
	files, err := filepath.Glob(filepath.Join("testdata", "views", "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs under testdata/views: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			conf, err := filepath.Abs(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, diags, ifaces := parseWithInterfaces(t, conf)
			for _, in := range cfg.Instances {
				for _, ti := range in.TrackInterface { // written without "{": Interfaces does not see them
					if !slices.Contains(ifaces, ti.Name) {
						ifaces = append(ifaces, ti.Name)
					}
				}
			}
			ns, eff, vd := effectiveIn(t, ip, ifaces, cfg)
			if r := append(diags.Refusals(false), vd.Refusals(false)...); len(r) > 0 {
				t.Fatalf("kt would not run %s: %v", f, r)
			}
			kaSettings, ktSettings := instanceSettings(t, ns, ka, conf, configID, eff)
			at := func(string) int { return 0 }
			if d := CompareSettings(filepath.Base(f), at, kaSettings, ktSettings); len(d) > 0 {
				t.Errorf("kt's instances differ from keepalived's VRRP process:\n%v\nkeepalived: %v\nkt: %v", d, kaSettings, ktSettings)
			}
		})
	}
}

package vrrp

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// vrrpImportPath is this package's import path, as other packages name it.
const vrrpImportPath = "github.com/kt-project/kt/vrrp"

// exportedAPI describes vrrp's exported package-level names: where each is
// declared and the exported types its surface mentions (parameter and
// result types, exported fields and methods, a constant's type).
type exportedAPI struct {
	where   map[string]string   // name -> "file:line"
	mention map[string][]string // name -> exported vrrp names its surface mentions
	alias   map[string]bool     // names that are aliases of another package's names
	kind    map[string]string   // name -> "func", "type", "const" or "var"
}

// readExportedAPI parses the package's non-test files in dir.
func readExportedAPI(t *testing.T, dir string) exportedAPI {
	t.Helper()
	api := exportedAPI{where: map[string]string{}, mention: map[string][]string{}, alias: map[string]bool{},
		kind: map[string]string{}}
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	type pending struct {
		name string
		node ast.Node
	}
	var surface []pending
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				switch {
				case d.Recv == nil && d.Name.IsExported():
					api.where[d.Name.Name] = fset.Position(d.Pos()).String()
					api.kind[d.Name.Name] = "func"
					surface = append(surface, pending{d.Name.Name, d.Type})
				case d.Recv != nil && d.Name.IsExported():
					surface = append(surface, pending{receiverName(d.Recv.List[0].Type), d.Type})
				}
			case *ast.GenDecl:
				var lastType ast.Expr // a constant without a type takes the one above it (iota blocks)
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						api.where[s.Name.Name] = fset.Position(s.Pos()).String()
						api.kind[s.Name.Name] = "type"
						if s.Assign.IsValid() {
							if _, ok := s.Type.(*ast.SelectorExpr); ok {
								api.alias[s.Name.Name] = true
							}
						}
						for _, e := range exportedParts(s.Type) {
							surface = append(surface, pending{s.Name.Name, e})
						}
					case *ast.ValueSpec:
						if s.Type != nil || len(s.Values) > 0 {
							lastType = s.Type
						}
						for i, n := range s.Names {
							if !n.IsExported() {
								continue
							}
							api.where[n.Name] = fset.Position(n.Pos()).String()
							api.kind[n.Name] = d.Tok.String()
							if lastType != nil {
								surface = append(surface, pending{n.Name, lastType})
							}
							if s.Type == nil && i < len(s.Values) {
								if sel, ok := s.Values[i].(*ast.SelectorExpr); ok {
									if _, ok := sel.X.(*ast.Ident); ok {
										api.alias[n.Name] = true
									}
								}
							}
						}
					}
				}
			}
		}
	}
	for _, p := range surface {
		ast.Inspect(p.node, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				return false // another package's name
			case *ast.Ident:
				if _, ok := api.where[n.Name]; ok && n.Name != p.name {
					api.mention[p.name] = append(api.mention[p.name], n.Name)
				}
			}
			return true
		})
	}
	return api
}

// exportedParts are the type expressions of a type's exported surface:
// the type itself, or for a struct or interface the types of its exported
// (and embedded) fields and methods.
func exportedParts(e ast.Expr) []ast.Expr {
	var list *ast.FieldList
	switch t := e.(type) {
	case *ast.StructType:
		list = t.Fields
	case *ast.InterfaceType:
		list = t.Methods
	default:
		return []ast.Expr{e}
	}
	var out []ast.Expr
	for _, f := range list.List {
		keep := len(f.Names) == 0
		for _, n := range f.Names {
			keep = keep || n.IsExported()
		}
		if keep {
			out = append(out, f.Type)
		}
	}
	return out
}

func receiverName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return receiverName(e.X)
	case *ast.IndexExpr:
		return receiverName(e.X)
	case *ast.Ident:
		return e.Name
	}
	return ""
}

// usesOutside walks the module from root and returns, for each name
// selected from package vrrp (vrrp.Name) in a file outside vrrp's own
// directory, the files that select it. Tests, benchmarks and internal
// helpers count: they are other packages too.
func usesOutside(t *testing.T, root, self string) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != root && (e.Name() == "testdata" || strings.HasPrefix(e.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || filepath.Dir(p) == self {
			return nil
		}
		af, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		local := ""
		for _, im := range af.Imports {
			if path, _ := strconv.Unquote(im.Path.Value); path == vrrpImportPath {
				local = "vrrp"
				if im.Name != nil {
					local = im.Name.Name
				}
			}
		}
		if local == "" {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		ast.Inspect(af, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && !slices.Contains(used[sel.Sel.Name], rel) {
					used[sel.Sel.Name] = append(used[sel.Sel.Name], rel)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

// TestExportedNamesBudget keeps vrrp's exported API to what other packages
// use (issue #19 item 4). An exported package-level name must be selected
// as vrrp.Name somewhere outside this directory, or be a type that the
// surface of such a name mentions (a field's, parameter's or result's type;
// the type of an exported constant goes with it, and a constant of such a
// type goes with its type). A re-export of a vrrp/wire name must itself be
// used outside: inside vrrp, wire's names are written wire.Name.
func TestExportedNamesBudget(t *testing.T) {
	self, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	api := readExportedAPI(t, self)
	used := usesOutside(t, filepath.Dir(self), self)
	if len(api.where) < 10 || len(used) < 10 {
		t.Fatalf("found %d exported names and %d used outside: the walk is broken", len(api.where), len(used))
	}
	reach := map[string]string{}
	var visit func(name, from string)
	visit = func(name, from string) {
		if _, seen := reach[name]; seen || api.alias[name] && from != "outside" {
			return
		}
		reach[name] = from
		for _, m := range api.mention[name] {
			visit(m, name)
		}
	}
	for name := range used {
		if _, ok := api.where[name]; ok {
			visit(name, "outside")
		}
	}
	// A constant of a reachable type goes with its type.
	for name, ms := range api.mention {
		if _, ok := reach[name]; ok {
			continue
		}
		for _, m := range ms {
			if _, ok := reach[m]; ok && api.kind[name] == "const" && len(ms) == 1 {
				reach[name] = m
			}
		}
	}
	var extra []string
	for name, where := range api.where {
		if _, ok := reach[name]; !ok {
			extra = append(extra, where+": "+name)
		}
	}
	slices.Sort(extra)
	for _, e := range extra {
		t.Errorf("%s is exported but no other package uses it: unexport it (or use it)", e)
	}
	t.Logf("%d exported package-level names, %d selected outside vrrp", len(api.where), len(used))
}

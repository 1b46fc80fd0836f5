package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/packetwalk/kubectl-packetwalk/trace"
)

// suggestPods lists the pod names of the namespace (only on the error path) and returns
// "; did you mean a, b?" for the closest ones, or "".
func (s *session) suggestPods(ctx context.Context, ref trace.PodRef) string {
	l, err := s.c.api.ListPods(ctx, ref.Namespace, metav1.ListOptions{Limit: pageSize})
	if err != nil {
		return ""
	}
	var names []string
	for _, p := range l.Items {
		names = append(names, p.Name)
	}
	if m := Similar(ref.Name, names, 3); len(m) > 0 {
		return "; did you mean " + strings.Join(m, ", ") + "?"
	}
	// A wrong namespace: the pods of that very name elsewhere (one field-selected LIST).
	sel := fields.OneTermEqualSelector("metadata.name", ref.Name).String()
	if l, err := s.c.api.ListPods(ctx, "", metav1.ListOptions{FieldSelector: sel, Limit: pageSize}); err == nil && len(l.Items) > 0 {
		var refs []string
		for _, p := range l.Items {
			refs = append(refs, p.Namespace+"/"+p.Name)
		}
		sort.Strings(refs)
		if len(refs) > 3 {
			refs = refs[:3]
		}
		return "; did you mean " + strings.Join(refs, ", ") + "?"
	}
	if len(names) == 0 {
		return fmt.Sprintf(" (namespace %s has no pods; wrong -n?)", ref.Namespace)
	}
	return ""
}

// suggestNodes lists the node names (only on the error path, one page) and returns
// "; did you mean a, b?" for the closest ones, or "".
func (s *session) suggestNodes(ctx context.Context, name string) string {
	l, err := s.c.api.ListNodes(ctx, metav1.ListOptions{Limit: pageSize})
	if err != nil {
		return ""
	}
	var names []string
	for _, n := range l.Items {
		names = append(names, n.Name)
	}
	if m := Similar(name, names, 3); len(m) > 0 {
		return "; did you mean " + strings.Join(m, ", ") + "?"
	}
	return ""
}

package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// API is what the collector reads from the Kubernetes API. kubeclient.Client has it without
// linking client-go's clientset; a test can adapt a clientset (fake or real) to it.
type API interface {
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	ListPods(ctx context.Context, namespace string, o metav1.ListOptions) (*corev1.PodList, error)
	GetNode(ctx context.Context, name string) (*corev1.Node, error)
	ListNodes(ctx context.Context, o metav1.ListOptions) (*corev1.NodeList, error)
	GetService(ctx context.Context, namespace, name string) (*corev1.Service, error)
	ListServices(ctx context.Context, namespace string, o metav1.ListOptions) (*corev1.ServiceList, error)
	ListEndpointSlices(ctx context.Context, namespace string, o metav1.ListOptions) (*discoveryv1.EndpointSliceList, error)
}

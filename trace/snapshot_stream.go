package trace

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// streamed are the types decodeStream opens field by field; their lists of facts (nodes, netns,
// pods, MAC entries, fabric objects) are then decoded one element at a time, so the decoder holds
// one element's JSON at a time instead of the whole snapshot's.
var streamed = map[reflect.Type]bool{
	reflect.TypeFor[Snapshot](): true, reflect.TypeFor[Cluster](): true, reflect.TypeFor[NodeState](): true,
	reflect.TypeFor[OVS](): true, reflect.TypeFor[Fabric](): true, reflect.TypeFor[Firewall](): true,
}

// decodeStream decodes the next JSON value of dec into v (a pointer), as json.Decoder.Decode
// would for the types in this file, without buffering the whole value.
func decodeStream(dec *json.Decoder, v any) error {
	return streamValue(dec, reflect.ValueOf(v).Elem())
}

func streamValue(dec *json.Decoder, v reflect.Value) error {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Struct && streamed[t]:
		_, err := streamStruct(dec, v)
		return err
	case t.Kind() == reflect.Pointer && streamed[t.Elem()]:
		p := reflect.New(t.Elem())
		null, err := streamStruct(dec, p.Elem())
		if err != nil {
			return err
		}
		if null {
			v.SetZero()
		} else {
			v.Set(p)
		}
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok == nil {
			v.SetZero()
			return nil
		}
		if tok != json.Delim('[') {
			return fmt.Errorf("json: cannot unmarshal %v into Go value of type %s", tok, t)
		}
		v.Set(reflect.MakeSlice(t, 0, 0)) // [] is an empty list, not none
		for dec.More() {
			e := reflect.New(t.Elem()).Elem()
			if err := streamValue(dec, e); err != nil {
				return err
			}
			v.Set(reflect.Append(v, e))
		}
		_, err = dec.Token() // ']'
		return err
	}
	return dec.Decode(v.Addr().Interface())
}

// streamStruct decodes a JSON object into struct v field by field (json tags, then a
// case-insensitive match, as encoding/json; unknown keys skipped; null leaves v zero).
func streamStruct(dec *json.Decoder, v reflect.Value) (null bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	if tok == nil {
		return true, nil
	}
	if tok != json.Delim('{') {
		return false, fmt.Errorf("json: cannot unmarshal %v into Go value of type %s", tok, v.Type())
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false, err
		}
		key, _ := tok.(string)
		f, ok := fieldByJSONName(v, key)
		if !ok {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return false, err
			}
			continue
		}
		if err := streamValue(dec, f); err != nil {
			return false, err
		}
	}
	_, err = dec.Token() // '}'
	return false, err
}

func fieldByJSONName(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	fold := -1
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if name == key {
			return v.Field(i), true
		}
		if fold < 0 && strings.EqualFold(name, key) {
			fold = i
		}
	}
	if fold >= 0 {
		return v.Field(fold), true
	}
	return reflect.Value{}, false
}

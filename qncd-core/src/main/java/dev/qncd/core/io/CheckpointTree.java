package dev.qncd.core.io;

import dev.qncd.core.FormatException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Operations on an unpickled checkpoint object before and after its tensors are read: normalising the
 * raw pickle objects, flattening to dotted paths, selecting a sub-tree, and swapping tensor references
 * for arrays.
 */
final class CheckpointTree {

    private CheckpointTree() {}

    /**
     * Copies the raw unpickled object into fresh containers: tuples and lists become {@link ArrayList}s,
     * dicts {@link LinkedHashMap}s, sets {@link LinkedHashSet}s, a bare storage a 1-D {@link TensorRef}.
     * Shared sub-objects stay shared; cycles are kept.
     *
     * @param raw the unpickled object
     * @param source registers tensors made from bare storages
     * @return the normalised tree
     */
    static Object normalize(Object raw, TorchCheckpointSource source) {
        return new Normalizer(source).apply(raw);
    }

    private static final class Normalizer {
        private final TorchCheckpointSource source;
        private final Map<Object, Object> done = new IdentityHashMap<>();

        Normalizer(TorchCheckpointSource source) {
            this.source = source;
        }

        Object apply(Object o) {
            if (o == null || o instanceof String || o instanceof Number || o instanceof Boolean
                    || o instanceof TensorRef) {
                return o;
            }
            Object prev = done.get(o);
            if (prev != null) {
                return prev;
            }
            if (o instanceof Object[] a) {
                List<Object> l = new ArrayList<>(a.length);
                done.put(o, l);
                for (Object x : a) {
                    l.add(apply(x));
                }
                return l;
            }
            if (o instanceof List<?> src) {
                List<Object> l = new ArrayList<>(src.size());
                done.put(o, l);
                for (Object x : src) {
                    l.add(apply(x));
                }
                return l;
            }
            if (o instanceof Map<?, ?> src) {
                Map<Object, Object> m = new LinkedHashMap<>();
                done.put(o, m);
                for (Map.Entry<?, ?> e : src.entrySet()) {
                    m.put(apply(e.getKey()), apply(e.getValue()));
                }
                return m;
            }
            if (o instanceof Set<?> src) {
                Set<Object> s = new LinkedHashSet<>();
                done.put(o, s);
                for (Object x : src) {
                    s.add(apply(x));
                }
                return s;
            }
            if (o instanceof StorageRef.View v) {
                TensorRef t = new TensorRef(v.root(), v.offset(), new long[] {v.size()}, new long[] {1});
                v.root().tensors.add(t);
                source.tensors.add(t);
                done.put(o, t);
                return t;
            }
            if (o instanceof TorchGlobal g) {
                // a class stored as a value (e.g. a storage type); keep its name
                return g.qualifiedName();
            }
            return o; // byte[] and other immutable leaves
        }
    }

    /**
     * Lists every tensor under {@code tree} by dotted path (map keys, list indices), depth first in
     * order; names each tensor's {@link TensorRef#name} the first time it is seen.
     *
     * @param tree a normalised tree
     * @param prefix the path of {@code tree} itself ("" for the root)
     * @return path to tensor, in tree order; a tensor reachable twice appears under both paths
     */
    static LinkedHashMap<String, TensorRef> flatten(Object tree, String prefix) {
        LinkedHashMap<String, TensorRef> out = new LinkedHashMap<>();
        flatten(tree, prefix, out, Collections.newSetFromMap(new IdentityHashMap<>()));
        return out;
    }

    private static void flatten(Object o, String path, Map<String, TensorRef> out, Set<Object> onPath) {
        if (o instanceof TensorRef t) {
            if (t.name == null) {
                t.name = path;
            }
            out.put(path, t);
            return;
        }
        if (!(o instanceof Map) && !(o instanceof List)) {
            return;
        }
        if (!onPath.add(o)) {
            return; // a cycle
        }
        if (o instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                flatten(e.getValue(), join(path, String.valueOf(e.getKey())), out, onPath);
            }
        } else {
            List<?> l = (List<?>) o;
            for (int i = 0; i < l.size(); i++) {
                flatten(l.get(i), join(path, Integer.toString(i)), out, onPath);
            }
        }
        onPath.remove(o);
    }

    private static String join(String prefix, String key) {
        return prefix.isEmpty() ? key : prefix + "." + key;
    }

    /**
     * @param o a normalised sub-tree
     * @return whether any tensor is reachable from it
     */
    static boolean containsTensor(Object o) {
        return !flatten(o, "").isEmpty();
    }

    /**
     * Follows a dotted path: map keys (which may themselves contain dots; the longest matching key
     * wins) and list indices.
     *
     * @param tree a normalised tree
     * @param path e.g. {@code state_dict} or {@code 4}
     * @param file for messages
     * @return the sub-tree
     * @throws FormatException when the path does not exist
     */
    static Object select(Object tree, String path, String file) {
        String[] parts = path.split("\\.", -1);
        Object cur = tree;
        int i = 0;
        while (i < parts.length) {
            int matched = -1;
            Object next = null;
            if (cur instanceof Map<?, ?> m) {
                for (int j = parts.length; j > i && matched < 0; j--) {
                    String k = String.join(".", java.util.Arrays.copyOfRange(parts, i, j));
                    for (Map.Entry<?, ?> e : m.entrySet()) {
                        if (String.valueOf(e.getKey()).equals(k)) {
                            matched = j;
                            next = e.getValue();
                            break;
                        }
                    }
                }
            } else if (cur instanceof List<?> l) {
                try {
                    int idx = Integer.parseInt(parts[i]);
                    if (idx >= 0 && idx < l.size()) {
                        matched = i + 1;
                        next = l.get(idx);
                    }
                } catch (NumberFormatException e) {
                    // no match
                }
            }
            if (matched < 0) {
                String at = i == 0 ? "" : " under '" + String.join(".", java.util.Arrays.copyOfRange(parts, 0, i)) + "'";
                throw new FormatException(file + ": no key '" + path + "'" + at + "; the top-level keys are "
                        + topLevelKeys(tree) + ": pass one of them (a dotted path such as state_dict or 4), "
                        + "or none to detect the state dict");
            }
            cur = next;
            i = matched;
        }
        return cur;
    }

    /**
     * @param tree a normalised tree
     * @return its top-level keys for messages, e.g. {@code [state_dict, epoch]} or {@code 0..4 (a list)}
     */
    static String topLevelKeys(Object tree) {
        if (tree instanceof Map<?, ?> m) {
            List<String> keys = new ArrayList<>();
            for (Object k : m.keySet()) {
                keys.add(String.valueOf(k));
            }
            return keys.toString();
        }
        if (tree instanceof List<?> l) {
            return l.isEmpty() ? "[] (an empty list)" : "0.." + (l.size() - 1) + " (a list)";
        }
        return "[] (the checkpoint holds a single " + (tree instanceof TensorRef ? "tensor" : "value") + ")";
    }

    /**
     * Replaces, in place, every {@link TensorRef} of a normalised tree with its read array.
     *
     * @param tree a normalised tree whose tensors were all read
     * @return the tree (a new root only when the root itself is a tensor)
     */
    static Object toArrays(Object tree) {
        return replace(tree, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    @SuppressWarnings("unchecked")
    private static Object replace(Object o, Set<Object> seen) {
        if (o instanceof TensorRef t) {
            return t.array;
        }
        if (!(o instanceof Map) && !(o instanceof List) && !(o instanceof Set)) {
            return o;
        }
        if (!seen.add(o)) {
            return o;
        }
        if (o instanceof Map<?, ?> m) {
            for (Map.Entry<Object, Object> e : ((Map<Object, Object>) m).entrySet()) {
                e.setValue(replace(e.getValue(), seen));
            }
        } else if (o instanceof List<?> l) {
            ((List<Object>) l).replaceAll(x -> replace(x, seen));
        } else {
            Set<Object> s = (Set<Object>) o;
            List<Object> items = new ArrayList<>(s);
            s.clear();
            for (Object x : items) {
                s.add(replace(x, seen));
            }
        }
        return o;
    }
}

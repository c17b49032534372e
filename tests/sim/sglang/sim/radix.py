"""A radix tree over token ids with page-aligned keys, reference counts and LRU leaf eviction."""
import heapq
import time


class Node:
    __slots__ = ("key", "children", "parent", "lock_ref", "last_access", "__weakref__")

    def __init__(self, key=(), parent=None):
        self.key = key
        self.children = {}
        self.parent = parent
        self.lock_ref = 0
        self.last_access = time.monotonic()


class RadixCache:
    def __init__(self, page_size=1, disabled=False):
        self.page_size = max(1, int(page_size))
        self.disabled = disabled
        self.reset()

    def reset(self):
        self.root = Node()
        self.root.lock_ref = 1
        self.total_size = 0
        self.protected_size = 0

    def _child_key(self, key):
        return key[:self.page_size] if self.page_size > 1 else key[0]

    def _match_len(self, a, b):
        n = min(len(a), len(b))
        if a[:n] == b[:n]:
            i = n
        else:
            i = 0
            while i < n and a[i] == b[i]:
                i += 1
        if self.page_size > 1:
            i -= i % self.page_size
        return i

    def _aligned(self, key):
        if self.page_size > 1:
            return key[:len(key) - len(key) % self.page_size]
        return key

    def match_prefix(self, key):
        """(matched length, last node). `key` is truncated to whole pages first."""
        if self.disabled:
            return 0, self.root
        key = tuple(self._aligned(key))
        node = self.root
        matched = 0
        now = time.monotonic()
        node.last_access = now
        while len(key) > matched:
            child = node.children.get(self._child_key(key[matched:]))
            if child is None:
                break
            child.last_access = now
            n = self._match_len(child.key, key[matched:])
            if n == 0:
                break
            if n < len(child.key):
                child = self._split(child, n)
                matched += n
                node = child
                break
            matched += n
            node = child
        return matched, node

    def _split(self, child, n):
        """Split `child` after `n` tokens; returns the new upper node."""
        new = Node(child.key[:n], child.parent)
        new.lock_ref = child.lock_ref
        new.last_access = child.last_access
        new.children[self._child_key(child.key[n:])] = child
        child.parent.children[self._child_key(child.key)] = new
        child.key = child.key[n:]
        child.parent = new
        return new

    def insert(self, key):
        """Insert `key` (page-aligned); returns the number of tokens that were already present."""
        if self.disabled:
            return 0
        key = tuple(self._aligned(key))
        node = self.root
        pos = 0
        now = time.monotonic()
        while pos < len(key):
            ck = self._child_key(key[pos:])
            child = node.children.get(ck)
            if child is None:
                new = Node(key[pos:], node)
                new.last_access = now
                node.children[ck] = new
                self.total_size += len(new.key)
                return pos
            child.last_access = now
            n = self._match_len(child.key, key[pos:])
            if n < len(child.key):
                child = self._split(child, n)
            pos += n
            node = child
        return pos

    def inc_lock(self, node):
        while node is not self.root:
            if node.lock_ref == 0:
                self.protected_size += len(node.key)
            node.lock_ref += 1
            node = node.parent

    def dec_lock(self, node):
        while node is not self.root and node is not None:
            node.lock_ref -= 1
            if node.lock_ref == 0:
                self.protected_size -= len(node.key)
            node = node.parent

    def evictable_size(self):
        return self.total_size - self.protected_size

    def evict(self, num_tokens):
        """Evict least-recently-used unreferenced leaves until `num_tokens` are freed; returns freed count."""
        leaves = []
        stack = [self.root]
        while stack:
            n = stack.pop()
            if n.children:
                stack.extend(n.children.values())
            elif n is not self.root and n.lock_ref == 0:
                leaves.append((n.last_access, id(n), n))
        heapq.heapify(leaves)
        freed = 0
        while freed < num_tokens and leaves:
            unused_access, unused_id, leaf = heapq.heappop(leaves)
            parent = leaf.parent
            del parent.children[self._child_key(leaf.key)]
            freed += len(leaf.key)
            self.total_size -= len(leaf.key)
            if parent is not self.root and not parent.children and parent.lock_ref == 0:
                heapq.heappush(leaves, (parent.last_access, id(parent), parent))
        return freed

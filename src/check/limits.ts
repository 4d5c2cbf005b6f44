// The checker's default bound, in a module of its own so that the command
// line can show it without loading the checker.

/**
 * 256 MiB of cache for one key's search: a few million configurations of a
 * key with a thousand operations, tens of millions of a small one. A search
 * that needs more seldom decides in minutes anyway, and the machine keeps room
 * for the rest.
 */
export const DEFAULT_MEMORY = 256 * 2 ** 20;

/** A page of a newest-first list: how many, and before which id. */
export interface Page {
  limit: number; // bounded by the caller
  beforeId?: number; // for paging newest-first lists
}

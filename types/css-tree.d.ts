/** The part of css-tree (which ships no types) that origin/src/delivery/svg.ts uses. */
declare module 'css-tree' {
  export interface CssNode {
    type: string;
    name?: string;
    value?: unknown;
  }
  export interface ListItem {
    data: CssNode;
  }
  export interface List {
    remove(item: ListItem): void;
    replace(item: ListItem, replacement: ListItem): void;
    createItem(data: CssNode): ListItem;
  }
  export function parse(css: string, options?: { context?: 'stylesheet' | 'declarationList' | 'value'; onParseError?: (e: Error) => void }): CssNode;
  export function walk(ast: CssNode, options: { visit?: string; enter: (node: CssNode, item: ListItem, list: List | null) => void }): void;
  export function generate(ast: CssNode): string;
}

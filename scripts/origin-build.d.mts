/** Types of ./origin-build.mjs (plain JS so the Docker build runs it with node alone). */
export declare const ROOT: string;
/** The build of the current origin sources (built now if there is none); returns its main.js. */
export declare function buildOrigin(root?: string): Promise<string>;
/** Node flags of every region process. */
export declare const ORIGIN_NODE_ARGS: string[];
/** The command line (after `node`) that starts a region origin. */
export declare function originArgv(): string[];

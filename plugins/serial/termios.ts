/** Moved to hardware/termios.ts (kept as a re-export while other plugins move over). @module */
export * from "@myclerk/hardware/termios.ts";

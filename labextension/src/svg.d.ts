// The JupyterLab builder loads .svg files imported from TypeScript as strings.
declare module '*.svg' {
  const svgstr: string;
  export default svgstr;
}

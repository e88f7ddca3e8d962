<%@ page session="true" contentType="application/json" trimDirectiveWhitespaces="true"
    import="java.io.BufferedReader" %><%--
  What sessiond's PUT {ctx}/.session/attributes/x does: the body (JSON text) becomes attribute x
  of the session (created if absent). JSPs take GET/POST/HEAD only, so the benchmark POSTs here.
--%><%
  StringBuilder body = new StringBuilder(256);
  BufferedReader r = request.getReader();
  char[] buf = new char[4096];
  for (int n; (n = r.read(buf)) > 0; ) body.append(buf, 0, n);
  session.setAttribute("x", body.toString());
  out.print(body);
%>

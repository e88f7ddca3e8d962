<%@ page session="true" contentType="application/json" trimDirectiveWhitespaces="true"
    import="java.time.Instant,java.time.temporal.ChronoUnit,java.util.Enumeration" %><%--
  What sessiond's GET {ctx}/.session does: the session (created if absent) as JSON. Attribute
  values are stored as JSON text (set.jsp) and written out as they are.
--%><%
  StringBuilder sb = new StringBuilder(256);
  sb.append("{\"id\":\"").append(session.getId())
    .append("\",\"node\":\"").append(System.getProperty("node.name"))
    .append("\",\"created\":\"").append(Instant.ofEpochMilli(session.getCreationTime()).truncatedTo(ChronoUnit.MILLIS))
    .append("\",\"last_accessed\":\"").append(Instant.ofEpochMilli(session.getLastAccessedTime()).truncatedTo(ChronoUnit.MILLIS))
    .append("\",\"max_inactive_seconds\":").append(session.getMaxInactiveInterval())
    .append(",\"attributes\":{");
  boolean first = true;
  for (Enumeration<String> e = session.getAttributeNames(); e.hasMoreElements(); ) {
    String name = e.nextElement();
    if (!first) sb.append(',');
    first = false;
    sb.append('"').append(name).append("\":").append(session.getAttribute(name));
  }
  sb.append("}}");
  out.print(sb);
%>

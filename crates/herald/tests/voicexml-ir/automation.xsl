<?xml version="1.0"?>
<!--
  Automation overrides for the W3C VoiceXML 2.0 Implementation Report stylesheet.

  The stock stylesheet (vxml-conformance.xsl, kept outside this repository under
  ../shared/conformance/voicexml-ir/xslt/) makes a test *speak* "pass" or "fail". Herald's
  conformance test (crates/herald/tests/voicexml_ir.rs) reads the exit value instead, so here
  conf:pass ends the session with <exit expr="'PASS'"/> and conf:fail with <exit expr="'FAIL'"/>,
  logging the failure's reason or expression first so that a failure can be diagnosed from the
  transcript.

  This file holds only the overriding templates. It is used through a wrapper that imports the
  W3C stylesheet first and this one second (a later import takes precedence), which the test
  writes at run time:

    <xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
      <xsl:import href="/path/to/shared/conformance/voicexml-ir/xslt/vxml-conformance.xsl"/>
      <xsl:import href="/path/to/crates/herald/tests/voicexml-ir/automation.xsl"/>
    </xsl:stylesheet>
-->
<xsl:stylesheet
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:conf="http://www.w3.org/2002/vxml-conformance"
    xmlns="http://www.w3.org/2001/vxml"
    version="1.0">

<xsl:template match="conf:pass">
  <exit expr="'PASS'"/>
</xsl:template>

<xsl:template match="conf:fail">
  <xsl:if test="@reason != ''">
    <log>failure reason: <xsl:value-of select="@reason"/></log>
  </xsl:if>
  <xsl:if test="@expr != ''">
    <log>failure expression: <value expr="{@expr}"/></log>
  </xsl:if>
  <exit expr="'FAIL'"/>
</xsl:template>

</xsl:stylesheet>

"""deepseek-ascend: the Ascend NPU backend of deepseek over CANN (ACL runtime + aclnn)."""
__version__ = "0.1.0"
